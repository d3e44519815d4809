package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/lineage/sqlite/*.sql migrations/lineage/postgres/*.sql
var lineageMigrationsFS embed.FS

// lineageMigrationsTable keeps the trace index's goose history apart from
// the store's, so both evolve without sharing version numbers.
const lineageMigrationsTable = "kiln_lineage_migrations"

// migrateLineage applies the trace index's pending migrations.
func migrateLineage(ctx context.Context, d *dialect, db *sql.DB) error {
	fsys, err := fs.Sub(lineageMigrationsFS, "migrations/lineage/"+d.name)
	if err != nil {
		return err
	}
	opts := []goose.ProviderOption{goose.WithTableName(lineageMigrationsTable)}
	if d == postgresDialect {
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(d.goose, db, fsys, opts...)
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}
