package storetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/kilnbuild/kiln/internal/store"
)

// testConcurrentWriters runs 8 writers creating and updating objects while a
// watcher from version 0 checks it sees every event exactly once, in
// strictly increasing version order.
func testConcurrentWriters(t *testing.T, s store.Store) {
	const writers, each = 8, 50
	w := watch(t, s, store.WatchOptions{Filter: store.Filter{Kind: "Build"}})
	ctx := ctxT(t)
	goWriters(t, writers, func(g int) error { return writeMany(ctx, s, g, each) })()
	evs := collectN(t, w, writers*each*2) // collectN checks the order
	added := map[string]int{}
	for _, ev := range evs {
		if ev.Type == store.Added {
			added[ev.Object.Name]++
		}
	}
	if len(added) != writers*each {
		t.Fatalf("saw %d distinct ADDED objects, want %d", len(added), writers*each)
	}
	for name, n := range added {
		if n != 1 {
			t.Fatalf("%s ADDED %d times", name, n)
		}
	}
	if last := evs[len(evs)-1].Object.ResourceVersion; last != mustRV(t, s) {
		t.Fatalf("last event version %d, CurrentRV %d", last, mustRV(t, s))
	}
}

// writeMany creates and then updates n objects of writer g.
func writeMany(ctx context.Context, s store.Store, g, n int) error {
	for i := range n {
		o := obj("Build", fmt.Sprintf("ns%d", g%3), fmt.Sprintf("w%d-%03d", g, i), "writer="+strconv.Itoa(g))
		created, err := s.Create(ctx, o)
		if err != nil {
			return fmt.Errorf("writer %d: Create: %w", g, err)
		}
		created.Labels["step"] = "2"
		if _, err := s.Update(ctx, created); err != nil {
			return fmt.Errorf("writer %d: Update: %w", g, err)
		}
	}
	return nil
}

// testOptimisticConcurrency increments a counter from 8 goroutines with
// read-modify-write and version preconditions; no increment may be lost.
func testOptimisticConcurrency(t *testing.T, s store.Store) {
	const workers, each = 8, 15
	c := obj("Counter", "ns", "c")
	c.Data = []byte("0")
	mustCreate(t, s, c)
	ctx := ctxT(t)
	goWriters(t, workers, func(int) error {
		for range each {
			if err := increment(ctx, s, c.Key()); err != nil {
				return err
			}
		}
		return nil
	})()
	got, err := s.Get(ctx, c.Key())
	if err != nil || string(got.Data) != strconv.Itoa(workers*each) {
		t.Fatalf("counter = %q (%v), want %d", got.Data, err, workers*each)
	}
}

func increment(ctx context.Context, s store.Store, k store.Key) error {
	for {
		cur, err := s.Get(ctx, k)
		if err != nil {
			return err
		}
		n, _ := strconv.Atoi(string(cur.Data))
		cur.Data = []byte(strconv.Itoa(n + 1))
		_, err = s.Update(ctx, cur)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		return err
	}
}
