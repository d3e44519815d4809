package sqlstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

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

// TestLeasePurge: ended leases of a prefix older than the age go, live
// ones and other prefixes stay.
func TestLeasePurge(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func(t *testing.T) store.Store{
		"sqlite": func(t *testing.T) store.Store {
			s, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "kiln.db"), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"postgres": func(t *testing.T) store.Store {
			s, err := sqlstore.OpenPostgres(context.Background(), pgtest.Start(t), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	} {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { _ = s.Close() })
			ls := s.(*sqlstore.Store).Leases()
			ctx := t.Context()
			for _, n := range []string{"build/a/x", "build/a/y", "other/z"} {
				l, err := ls.Acquire(ctx, lease.Request{Name: n, Holder: "h#1", TTL: time.Hour})
				if err != nil {
					t.Fatal(err)
				}
				if n != "build/a/y" {
					if err := ls.Release(ctx, l); err != nil {
						t.Fatal(err)
					}
				}
			}
			time.Sleep(5 * time.Millisecond) // the release is in the past by more than 0
			n, err := ls.(lease.Purger).Purge(ctx, "build/", time.Millisecond)
			if err != nil || n != 1 {
				t.Fatalf("Purge = %d, %v; want 1 (build/a/x)", n, err)
			}
			if _, err := ls.Get(ctx, "build/a/x"); !errors.Is(err, lease.ErrNotFound) {
				t.Errorf("build/a/x: %v; want purged", err)
			}
			for _, n := range []string{"build/a/y", "other/z"} {
				if _, err := ls.Get(ctx, n); err != nil {
					t.Errorf("%s: %v; want kept", n, err)
				}
			}
			if n, err := ls.(lease.Purger).Purge(ctx, "other/", time.Hour); err != nil || n != 0 {
				t.Errorf("Purge of leases ended less than an hour ago = %d, %v; want 0", n, err)
			}
		})
	}
}
