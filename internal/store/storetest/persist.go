package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/store"
)

// tinyRetention makes every event old enough to compact at once.
var tinyRetention = store.Options{EventRetention: time.Nanosecond, MinEvents: 1}

func testPersistence(t *testing.T, open Opener) {
	s := closing(t, open(t, store.Options{}))
	in := obj("Build", "ns", "kept", "a=1")
	in.Fields = map[string]string{"spec.x": "y"}
	in.OwnerUIDs = []string{"o1"}
	created := mustCreate(t, s, in)
	mustCreate(t, s, obj("Build", "ns", "gone"))
	gone, err := s.Delete(ctxT(t), store.Key{Kind: "Build", Namespace: "ns", Name: "gone"}, 0)
	if err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s2 := closing(t, open(t, store.Options{}))
	if rv := mustRV(t, s2); rv != gone.ResourceVersion {
		t.Fatalf("after reopen CurrentRV = %d, want %d", rv, gone.ResourceVersion)
	}
	got, err := s2.Get(ctxT(t), created.Key())
	if err != nil {
		t.Fatalf("Get after reopen: %v", err)
	}
	sameObject(t, "Get after reopen", got, created)
	checkSelect(t, s2, "owner o1 after reopen", store.Filter{Kind: "Build", OwnerUID: "o1",
		Labels: []store.Requirement{req("a", store.OpEquals, "1")}}, []string{"ns/kept"})
	next := mustCreate(t, s2, obj("Build", "ns", "new"))
	if next.ResourceVersion <= gone.ResourceVersion {
		t.Fatalf("version after reopen %d, not above %d", next.ResourceVersion, gone.ResourceVersion)
	}
}

func testWatchResumeAfterReopen(t *testing.T, open Opener) {
	s := closing(t, open(t, store.Options{}))
	first := mustCreate(t, s, obj("Build", "ns", "a"))
	mustCreate(t, s, obj("Build", "ns", "b"))
	if _, err := s.Delete(ctxT(t), first.Key(), 0); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s2 := closing(t, open(t, store.Options{}))
	w := watch(t, s2, store.WatchOptions{Filter: store.Filter{Kind: "Build"}, SinceRV: first.ResourceVersion})
	mustCreate(t, s2, obj("Build", "ns", "c"))
	if got := eventNames(collectN(t, w, 3)); !slices.Equal(got, []string{"ADDED b", "DELETED a", "ADDED c"}) {
		t.Fatalf("resumed watch: %v", got)
	}
}

// createN creates n objects named prefix-i one by one (one event each).
func createN(t *testing.T, s store.Store, prefix string, n int) {
	t.Helper()
	for i := range n {
		mustCreate(t, s, obj("Build", "ns", fmt.Sprintf("%s-%03d", prefix, i)))
	}
}

func testCompaction(t *testing.T, open Opener) {
	s := closing(t, open(t, tinyRetention))
	c := compactor(t, s)
	createN(t, s, "b", 10)
	time.Sleep(5 * time.Millisecond)
	if err := c.Compact(ctxT(t)); err != nil {
		t.Fatalf("Compact: %v", err)
	}
	cur := mustRV(t, s)
	for _, since := range []int64{0, cur - 2} {
		_, err := s.Watch(ctxT(t), store.WatchOptions{Filter: store.Filter{Kind: "Build"}, SinceRV: since})
		wantErr(t, fmt.Sprintf("Watch from compacted version %d", since), err, store.ErrExpired)
	}
	w := watch(t, s, store.WatchOptions{Filter: store.Filter{Kind: "Build"}, SinceRV: cur - 1})
	if ev := next(t, w); ev.Object.ResourceVersion != cur {
		t.Fatalf("watch from %d delivered %d, want %d", cur-1, ev.Object.ResourceVersion, cur)
	}
	atCur := watch(t, s, store.WatchOptions{Filter: store.Filter{Kind: "Build"}, SinceRV: cur})
	n := mustCreate(t, s, obj("Build", "ns", "after"))
	if ev := next(t, atCur); ev.Object.ResourceVersion != n.ResourceVersion {
		t.Fatalf("watch from current version after compaction delivered %d", ev.Object.ResourceVersion)
	}
	if got := listAll(t, s, store.Filter{Kind: "Build"}, 0); len(got) != 11 {
		t.Fatalf("compaction touched objects: %d listed, want 11", len(got))
	}
}

func testCompactionMinEvents(t *testing.T, open Opener) {
	s := closing(t, open(t, store.Options{EventRetention: time.Nanosecond, MinEvents: 5}))
	c := compactor(t, s)
	createN(t, s, "b", 20)
	time.Sleep(5 * time.Millisecond)
	if err := c.Compact(ctxT(t)); err != nil {
		t.Fatalf("Compact: %v", err)
	}
	cur := mustRV(t, s)
	w := watch(t, s, store.WatchOptions{Filter: store.Filter{Kind: "Build"}, SinceRV: cur - 5})
	if evs := collectN(t, w, 5); evs[4].Object.ResourceVersion != cur {
		t.Fatalf("last retained event %d, want %d", evs[4].Object.ResourceVersion, cur)
	}
	_, err := s.Watch(ctxT(t), store.WatchOptions{Filter: store.Filter{Kind: "Build"}, SinceRV: cur - 6})
	wantErr(t, "Watch before the MinEvents window", err, store.ErrExpired)
}

func testCompactionRetention(t *testing.T, open Opener) {
	s := closing(t, open(t, store.Options{EventRetention: time.Hour, MinEvents: 1}))
	c := compactor(t, s)
	createN(t, s, "b", 10)
	if err := c.Compact(ctxT(t)); err != nil {
		t.Fatalf("Compact: %v", err)
	}
	w := watch(t, s, store.WatchOptions{Filter: store.Filter{Kind: "Build"}})
	if evs := collectN(t, w, 10); evs[0].Object.Name != "b-000" {
		t.Fatalf("first retained event is %s", evs[0].Object.Name)
	}
}

// testSlowWatcherCompacted lets a watcher fall far behind while the events
// it has not read are compacted: it must end with ErrExpired (or, if it had
// buffered them, deliver them all) and never skip silently.
func testSlowWatcherCompacted(t *testing.T, open Opener) {
	s := closing(t, open(t, tinyRetention))
	c := compactor(t, s)
	slow := watch(t, s, store.WatchOptions{Filter: store.Filter{Kind: "Build"}})
	const total = 8000
	var objs []*store.Object
	for i := range total {
		objs = append(objs, obj("Build", "ns", fmt.Sprintf("b%05d", i)))
	}
	seed(t, s, objs)
	time.Sleep(5 * time.Millisecond)
	if err := c.Compact(ctxT(t)); err != nil {
		t.Fatalf("Compact: %v", err)
	}
	drainSlow(t, slow, total)
}

// testSharedDatabase opens two stores on one database, as two processes
// would, writes through both and checks that watchers on each see the same
// complete, strictly ordered stream.
func testSharedDatabase(t *testing.T, open Opener) {
	opts := store.Options{PollInterval: 20 * time.Millisecond}
	stores := []store.Store{closing(t, open(t, opts)), closing(t, open(t, opts))}
	const each = 100
	var ws []store.Watcher
	for _, s := range stores {
		ws = append(ws, watch(t, s, store.WatchOptions{Filter: store.Filter{Kind: "Build"}}))
	}
	ctx := ctxT(t)
	goWriters(t, 2*len(stores), func(g int) error { return writeMany(ctx, stores[g/2], g, each/2) })()
	total := len(stores) * each * 2 // creates and updates
	a, b := collectN(t, ws[0], total), collectN(t, ws[1], total)
	for i := range a {
		if a[i].Object.ResourceVersion != b[i].Object.ResourceVersion || a[i].Object.Name != b[i].Object.Name {
			t.Fatalf("event %d differs between stores: %d %s vs %d %s", i, a[i].Object.ResourceVersion,
				a[i].Object.Name, b[i].Object.ResourceVersion, b[i].Object.Name)
		}
	}
	if rv0, rv1 := mustRV(t, stores[0]), mustRV(t, stores[1]); rv0 != rv1 || rv0 != a[total-1].Object.ResourceVersion {
		t.Fatalf("CurrentRV %d / %d, last event %d", rv0, rv1, a[total-1].Object.ResourceVersion)
	}
	if _, err := stores[1].Get(ctxT(t), store.Key{Kind: "Build", Namespace: "ns0", Name: "w0-000"}); err != nil {
		t.Fatalf("object written through one store not visible through the other: %v", err)
	}
	if errors.Is(ws[0].Err(), store.ErrExpired) {
		t.Fatal("watcher expired")
	}
}
