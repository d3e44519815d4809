package sqlstore

import (
	"context"
	"database/sql"
	"embed"
)

//go:embed migrations/lineage/sqlite/*.sql migrations/lineage/postgres/*.sql
var lineageMigrationsFS embed.FS

// lineageMigrationsTable keeps the trace index's goose history apart from
// the store's, so both evolve without sharing version numbers.
const lineageMigrationsTable = "kiln_lineage_migrations"

// migrateLineage applies the trace index's pending migrations.
func migrateLineage(ctx context.Context, d *dialect, db *sql.DB) error {
	return migrateFS(ctx, d, db, lineageMigrationsFS, "migrations/lineage/"+d.name, lineageMigrationsTable)
}
