package sqlstore_test

import (
	"context"
	"os"
	"testing"

	"github.com/kilnbuild/kiln/internal/pgtest"
	"github.com/kilnbuild/kiln/internal/store"
	"github.com/kilnbuild/kiln/internal/store/sqlstore"
	"github.com/kilnbuild/kiln/internal/store/storetest"
)

// TestMain shares one PostgreSQL cluster among the package's tests.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// postgresDB is a storetest.Factory: a new database per call.
func postgresDB(t *testing.T) storetest.Opener {
	dsn := pgtest.Start(t)
	return func(t *testing.T, opts store.Options) store.Store {
		t.Helper()
		s, err := sqlstore.OpenPostgres(context.Background(), dsn, opts)
		if err != nil {
			t.Fatalf("OpenPostgres: %v", err)
		}
		return s
	}
}

func TestPostgresConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, postgresDB)
}

func TestOpenPostgresURL(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Start(t)
	s, err := sqlstore.Open(context.Background(), dsn, store.Options{})
	if err != nil {
		t.Fatalf("Open(%q): %v", dsn, err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}
