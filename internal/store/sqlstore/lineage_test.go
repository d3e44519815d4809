package sqlstore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/kilnbuild/kiln/internal/lineage"
	"github.com/kilnbuild/kiln/internal/lineage/lineagetest"
	"github.com/kilnbuild/kiln/internal/pgtest"
	"github.com/kilnbuild/kiln/internal/store"
	"github.com/kilnbuild/kiln/internal/store/sqlstore"
)

func lineageOf(t *testing.T, s store.Store, err error) lineage.Index {
	t.Helper()
	if err != nil {
		t.Fatalf("opening the store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s.(*sqlstore.Store).Lineage()
}

func TestSQLiteLineageConformance(t *testing.T) {
	t.Parallel()
	lineagetest.Run(t, func(t *testing.T) lineagetest.Opener {
		path := filepath.Join(t.TempDir(), "kiln.db")
		return func(t *testing.T) lineage.Index {
			s, err := sqlstore.OpenSQLite(context.Background(), path, store.Options{})
			return lineageOf(t, s, err)
		}
	})
}

func TestPostgresLineageConformance(t *testing.T) {
	t.Parallel()
	lineagetest.Run(t, func(t *testing.T) lineagetest.Opener {
		dsn := pgtest.Start(t)
		return func(t *testing.T) lineage.Index {
			s, err := sqlstore.OpenPostgres(context.Background(), dsn, store.Options{})
			return lineageOf(t, s, err)
		}
	})
}
