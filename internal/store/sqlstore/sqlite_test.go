package sqlstore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/kilnbuild/kiln/internal/store"
	"github.com/kilnbuild/kiln/internal/store/sqlstore"
	"github.com/kilnbuild/kiln/internal/store/storetest"
)

// sqliteDB is a storetest.Factory: a new database file per call.
func sqliteDB(t *testing.T) storetest.Opener {
	path := filepath.Join(t.TempDir(), "kiln.db")
	return func(t *testing.T, opts store.Options) store.Store {
		t.Helper()
		s, err := sqlstore.OpenSQLite(context.Background(), path, opts)
		if err != nil {
			t.Fatalf("OpenSQLite(%s): %v", path, err)
		}
		return s
	}
}

func TestSQLiteConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, sqliteDB)
}

func TestOpenURL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	for _, url := range []string{"sqlite://" + filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")} {
		s, err := sqlstore.Open(ctx, url, store.Options{})
		if err != nil {
			t.Fatalf("Open(%q): %v", url, err)
		}
		if _, err := s.CurrentRV(ctx); err != nil {
			t.Fatalf("Open(%q): CurrentRV: %v", url, err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	for _, url := range []string{"", "mysql://x", ":memory:", "sqlite://", filepath.Join(dir, "c.db?mode=ro")} {
		if s, err := sqlstore.Open(ctx, url, store.Options{}); err == nil {
			_ = s.Close()
			t.Fatalf("Open(%q) succeeded; want an error", url)
		}
	}
}
