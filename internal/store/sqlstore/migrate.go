package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationsFS embed.FS

// migrationsTable records applied migrations; it is specific to the store so
// other subsystems may keep their own goose history in the same database.
const migrationsTable = "kiln_store_migrations"

// migrateDSN applies pending migrations over a short-lived connection pool
// (goose holds a connection of its own, which the single-connection writer
// pool could not spare).
func migrateDSN(ctx context.Context, d *dialect, driver, dsn string) error {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return fmt.Errorf("opening %s for migration: %w", d.name, err)
	}
	defer db.Close()
	if err := migrate(ctx, d, db); err != nil {
		return fmt.Errorf("migrating %s schema: %w", d.name, err)
	}
	return nil
}

func migrate(ctx context.Context, d *dialect, db *sql.DB) error {
	if err := migrateFS(ctx, d, db, migrationsFS, d.migrations, migrationsTable); err != nil {
		return err
	}
	return migrateLineage(ctx, d, db)
}

// migrateFS applies the pending goose migrations under dir of fsys, with
// their history in table.
func migrateFS(ctx context.Context, d *dialect, db *sql.DB, fsys fs.FS, dir, table string) error {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		return err
	}
	opts := []goose.ProviderOption{goose.WithTableName(table)}
	if d == postgresDialect {
		// Kiln processes starting together must not migrate concurrently.
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(d.goose, db, sub, opts...)
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}
