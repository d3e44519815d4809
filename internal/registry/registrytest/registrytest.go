// Package registrytest opens a real registry — a SQLite store and a Secret
// sealer in the test's temp dir — for tests of the packages built on it.
package registrytest

import (
	"path/filepath"
	"testing"

	"github.com/kilnbuild/kiln/internal/registry"
	"github.com/kilnbuild/kiln/internal/secret"
	"github.com/kilnbuild/kiln/internal/store"
	"github.com/kilnbuild/kiln/internal/store/sqlstore"
)

// New returns a registry over a fresh SQLite store with default options;
// the store closes when the test ends.
func New(t testing.TB) *registry.Registry {
	t.Helper()
	return NewWithOptions(t, store.Options{})
}

// NewWithOptions is New with store options (event retention, for tests of
// compaction).
func NewWithOptions(t testing.TB, opts store.Options) *registry.Registry {
	t.Helper()
	return NewIn(t, t.TempDir(), opts)
}

// NewIn is NewWithOptions keeping the database (kiln.db) and the sealing
// key in dir.
func NewIn(t testing.TB, dir string, opts store.Options) *registry.Registry {
	t.Helper()
	st, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(dir, "kiln.db"), opts)
	if err != nil {
		t.Fatalf("opening the test store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	key, err := secret.LoadOrCreateKey(filepath.Join(dir, "secret.key"))
	if err != nil {
		t.Fatalf("creating the test sealing key: %v", err)
	}
	sealer, err := secret.New(key)
	if err != nil {
		t.Fatalf("creating the test sealer: %v", err)
	}
	return registry.New(st, sealer)
}
