// Package storetest is the conformance suite every store.Store backend must
// pass.
//
// A backend test provides a Factory:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.Opener {
//			path := filepath.Join(t.TempDir(), "kiln.db")
//			return func(t *testing.T, opts store.Options) store.Store {
//				s, err := sqlstore.OpenSQLite(context.Background(), path, opts)
//				if err != nil {
//					t.Fatal(err)
//				}
//				return s
//			}
//		})
//	}
//
// Run covers everything: the per-store semantics of Exercise plus restart
// persistence, compaction and two stores sharing one database. The suite
// closes every store it opens.
package storetest

import (
	"context"
	"sync"
	"testing"

	"github.com/kilnbuild/kiln/internal/store"
)

// Opener opens a Store on one underlying database. Run calls it again after
// closing the previous Store to check persistence, and calls it twice at
// once (two stores, as two processes would) for the shared-database tests.
type Opener func(t *testing.T, opts store.Options) store.Store

// Factory creates a fresh, empty database and returns its Opener.
type Factory func(t *testing.T) Opener

// Compactor is implemented by stores whose event compaction can be forced;
// the compaction tests are skipped for stores without it.
type Compactor interface {
	Compact(ctx context.Context) error
}

// Run runs the whole conformance suite.
func Run(t *testing.T, newDB Factory) {
	t.Run("Store", func(t *testing.T) {
		Exercise(t, func(t *testing.T) store.Store { return newDB(t)(t, store.Options{}) })
	})
	t.Run("Persistence", func(t *testing.T) { t.Parallel(); testPersistence(t, newDB(t)) })
	t.Run("WatchResumeAfterReopen", func(t *testing.T) { t.Parallel(); testWatchResumeAfterReopen(t, newDB(t)) })
	t.Run("Compaction", func(t *testing.T) { t.Parallel(); testCompaction(t, newDB(t)) })
	t.Run("CompactionKeepsMinEvents", func(t *testing.T) { t.Parallel(); testCompactionMinEvents(t, newDB(t)) })
	t.Run("CompactionHonoursRetention", func(t *testing.T) { t.Parallel(); testCompactionRetention(t, newDB(t)) })
	t.Run("SlowWatcherCompacted", func(t *testing.T) { t.Parallel(); testSlowWatcherCompacted(t, newDB(t)) })
	t.Run("SharedDatabase", func(t *testing.T) { t.Parallel(); testSharedDatabase(t, newDB(t)) })
}

// Exercise runs the semantics that need one fresh store per test; open must
// return a new store on an empty database each time.
func Exercise(t *testing.T, open func(t *testing.T) store.Store) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"CreateGet", testCreateGet},
		{"CreateKeepsUID", testCreateKeepsUID},
		{"CreateAlreadyExists", testCreateAlreadyExists},
		{"InvalidInput", testInvalidInput},
		{"ClusterScoped", testClusterScoped},
		{"Update", testUpdate},
		{"UpdateErrors", testUpdateErrors},
		{"Delete", testDelete},
		{"DeleteErrors", testDeleteErrors},
		{"Batch", testBatch},
		{"BatchRollback", testBatchRollback},
		{"ListOrderAndRV", testListOrder},
		{"Pagination", testPagination},
		{"PaginationConcurrentInserts", testPaginationConcurrent},
		{"LabelSelectors", testLabelSelectors},
		{"FieldSelectors", testFieldSelectors},
		{"NamespacesAndOwner", testNamespacesAndOwner},
		{"ResidualPagination", testResidualPagination},
		{"ListRVConsistentWithWatch", testListWatchConsistency},
		{"WatchHistoryThenLive", testWatchHistoryThenLive},
		{"WatchFilters", testWatchFilters},
		{"WatchFromCurrentRV", testWatchFromCurrent},
		{"WatchStop", testWatchStop},
		{"WatchSlowConsumer", testWatchSlowConsumer},
		{"WatchEndsOnClose", testWatchEndsOnClose},
		{"ConcurrentWriters", testConcurrentWriters},
		{"OptimisticConcurrency", testOptimisticConcurrency},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, closing(t, open(t)))
		})
	}
}

// closing makes sure s is closed when the test ends; Close may have been
// called by the test already.
func closing(t *testing.T, s store.Store) store.Store {
	t.Helper()
	c := &onceCloser{Store: s}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("closing store: %v", err)
		}
	})
	return c
}

type onceCloser struct {
	store.Store
	once sync.Once
	err  error
}

func (c *onceCloser) Close() error {
	c.once.Do(func() { c.err = c.Store.Close() })
	return c.err
}

// compactor returns the store's Compactor or skips the test.
func compactor(t *testing.T, s store.Store) Compactor {
	t.Helper()
	if oc, ok := s.(*onceCloser); ok {
		s = oc.Store
	}
	c, ok := s.(Compactor)
	if !ok {
		t.Skipf("%T does not implement storetest.Compactor", s)
	}
	return c
}
