package sqlstore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/kilnbuild/kiln/internal/lease"
	"github.com/kilnbuild/kiln/internal/lease/leasetest"
	"github.com/kilnbuild/kiln/internal/pgtest"
	"github.com/kilnbuild/kiln/internal/store"
	"github.com/kilnbuild/kiln/internal/store/sqlstore"
)

func TestSQLiteLeases(t *testing.T) {
	t.Parallel()
	leasetest.Run(t, func(t *testing.T) func(*testing.T) lease.HolderRenewer {
		path := filepath.Join(t.TempDir(), "kiln.db")
		return func(t *testing.T) lease.HolderRenewer {
			s, err := sqlstore.OpenSQLite(context.Background(), path, store.Options{})
			if err != nil {
				t.Fatalf("OpenSQLite: %v", err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s.(*sqlstore.Store).Leases()
		}
	})
}

func TestPostgresLeases(t *testing.T) {
	t.Parallel()
	leasetest.Run(t, func(t *testing.T) func(*testing.T) lease.HolderRenewer {
		dsn := pgtest.Start(t)
		return func(t *testing.T) lease.HolderRenewer {
			s, err := sqlstore.OpenPostgres(context.Background(), dsn, store.Options{})
			if err != nil {
				t.Fatalf("OpenPostgres: %v", err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s.(*sqlstore.Store).Leases()
		}
	})
}
