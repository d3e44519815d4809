package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/store"
)

func testWatchHistoryThenLive(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a := mustCreate(t, s, obj("Build", "ns", "a"))
	b := mustCreate(t, s, obj("Build", "ns", "b"))
	if _, err := s.Update(ctx, obj("Build", "ns", "a", "x=1")); err != nil {
		t.Fatalf("Update: %v", err)
	}
	w := watch(t, s, store.WatchOptions{Filter: store.Filter{Kind: "Build"}, SinceRV: a.ResourceVersion})
	hist := collectN(t, w, 2)
	if got := eventNames(hist); !slices.Equal(got, []string{"ADDED b", "MODIFIED a"}) {
		t.Fatalf("history after %d: %v", a.ResourceVersion, got)
	}
	sameObject(t, "ADDED event", hist[0].Object, b)
	if hist[1].Object.Labels["x"] != "1" {
		t.Fatalf("MODIFIED event carries %+v", hist[1].Object)
	}
	if _, err := s.Delete(ctx, b.Key(), 0); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	c := mustCreate(t, s, obj("Build", "ns", "c"))
	live := collectN(t, w, 2)
	if got := eventNames(live); !slices.Equal(got, []string{"DELETED b", "ADDED c"}) {
		t.Fatalf("live events: %v", got)
	}
	if live[1].Object.ResourceVersion != c.ResourceVersion || live[0].Object.ResourceVersion <= hist[1].Object.ResourceVersion {
		t.Fatalf("live versions wrong: %d, %d", live[0].Object.ResourceVersion, live[1].Object.ResourceVersion)
	}
	all := watch(t, s, store.WatchOptions{Filter: store.Filter{Kind: "Build"}})
	if got := eventNames(collectN(t, all, 5)); !slices.Equal(got,
		[]string{"ADDED a", "ADDED b", "MODIFIED a", "DELETED b", "ADDED c"}) {
		t.Fatalf("watch from 0: %v", got)
	}
}

func testWatchFilters(t *testing.T, s store.Store) {
	lbl := []store.Requirement{req("app", store.OpEquals, "web")}
	cases := []struct {
		name string
		f    store.Filter
		want []string
	}{
		{"kind", store.Filter{Kind: "Pod"}, []string{"p1", "p2", "p3", "p4"}},
		{"all kinds", store.Filter{}, []string{"p1", "p2", "p3", "p4", "s1"}},
		{"namespace", store.Filter{Kind: "Pod", Namespace: "b"}, []string{"p3"}},
		{"namespaces", store.Filter{Kind: "Pod", Namespaces: []string{"b", "c"}}, []string{"p3", "p4"}},
		{"labels", store.Filter{Kind: "Pod", Labels: lbl}, []string{"p1", "p3"}},
		{"label !=", store.Filter{Kind: "Pod", Labels: []store.Requirement{req("app", store.OpNotEquals, "web")}},
			[]string{"p2", "p4"}},
		{"field", store.Filter{Kind: "Pod", Fields: []store.Requirement{req("spec.node", store.OpEquals, "n1")}},
			[]string{"p2"}},
		{"metadata.name", store.Filter{Kind: "Pod", Fields: []store.Requirement{req("metadata.name", store.OpNotEquals, "p1")}},
			[]string{"p2", "p3", "p4"}},
		{"owner", store.Filter{Kind: "Pod", OwnerUID: "rs1"}, []string{"p1", "p4"}},
	}
	var ws []store.Watcher
	for _, c := range cases {
		ws = append(ws, watch(t, s, store.WatchOptions{Filter: c.f}))
	}
	p1 := obj("Pod", "a", "p1", "app=web")
	p1.OwnerUIDs = []string{"rs1"}
	p2 := obj("Pod", "a", "p2", "app=db")
	p2.Fields = map[string]string{"spec.node": "n1"}
	p4 := obj("Pod", "c", "p4")
	p4.OwnerUIDs = []string{"rs0", "rs1"}
	for _, o := range []*store.Object{p1, p2, obj("Pod", "b", "p3", "app=web"), p4, obj("Svc", "a", "s1", "app=web")} {
		mustCreate(t, s, o)
	}
	for i, c := range cases {
		var got []string
		for _, ev := range collectN(t, ws[i], len(c.want)) {
			got = append(got, ev.Object.Name)
		}
		if !slices.Equal(got, c.want) {
			t.Fatalf("%s: got %v, want %v", c.name, got, c.want)
		}
		noEvent(t, ws[i], 20*time.Millisecond)
	}
}

func testWatchFromCurrent(t *testing.T, s store.Store) {
	mustCreate(t, s, obj("Build", "ns", "old"))
	w := watch(t, s, store.WatchOptions{Filter: store.Filter{Kind: "Build"}, SinceRV: mustRV(t, s)})
	noEvent(t, w, 50*time.Millisecond)
	n := mustCreate(t, s, obj("Build", "ns", "new"))
	if ev := next(t, w); ev.Object.Name != "new" || ev.Type != store.Added || ev.Object.ResourceVersion != n.ResourceVersion {
		t.Fatalf("got %s %s rv=%d; want ADDED new rv=%d", ev.Type, ev.Object.Name, ev.Object.ResourceVersion, n.ResourceVersion)
	}
	future := watch(t, s, store.WatchOptions{Filter: store.Filter{Kind: "Build"}, SinceRV: n.ResourceVersion + 1})
	mustCreate(t, s, obj("Build", "ns", "skipped"))
	last := mustCreate(t, s, obj("Build", "ns", "seen"))
	if ev := next(t, future); ev.Object.ResourceVersion != last.ResourceVersion {
		t.Fatalf("watch from a future version delivered rv=%d, want %d", ev.Object.ResourceVersion, last.ResourceVersion)
	}
}

func testWatchStop(t *testing.T, s store.Store) {
	w := watch(t, s, store.WatchOptions{Filter: store.Filter{Kind: "Build"}})
	w.Stop()
	w.Stop() // idempotent
	waitClosed(t, w)
	if err := w.Err(); err != nil {
		t.Fatalf("Err after Stop = %v, want nil", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w2, err := s.Watch(ctx, store.WatchOptions{Filter: store.Filter{Kind: "Build"}})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	cancel()
	waitClosed(t, w2)
	if err := w2.Err(); err != nil {
		t.Fatalf("Err after context cancel = %v, want nil", err)
	}
	mustCreate(t, s, obj("Build", "ns", "after-stop")) // must not block on stopped watchers
}

// waitClosed drains w until its channel closes.
func waitClosed(t *testing.T, w store.Watcher) {
	t.Helper()
	deadline := time.After(eventTimeout)
	for {
		select {
		case _, ok := <-w.Events():
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("watch channel not closed")
		}
	}
}

// testWatchSlowConsumer checks that a watcher nobody reads neither blocks
// writers nor other watchers, and afterwards either delivers everything in
// order or ends with ErrExpired.
func testWatchSlowConsumer(t *testing.T, s store.Store) {
	const total = 6000
	slow := watch(t, s, store.WatchOptions{Filter: store.Filter{Kind: "Build"}})
	fast := watch(t, s, store.WatchOptions{Filter: store.Filter{Kind: "Build"}})
	done := make(chan int)
	go func() {
		n := 0
		for range fast.Events() {
			if n++; n == total {
				break
			}
		}
		done <- n
	}()
	var objs []*store.Object
	for i := range total {
		objs = append(objs, obj("Build", "ns", fmt.Sprintf("b%05d", i)))
	}
	start := time.Now()
	seed(t, s, objs)
	select {
	case n := <-done:
		if n != total {
			t.Fatalf("fast watcher got %d events, want %d (err %v)", n, total, fast.Err())
		}
	case <-time.After(eventTimeout):
		t.Fatalf("fast watcher starved by a slow one (writes took %v)", time.Since(start))
	}
	drainSlow(t, slow, total)
}

func drainSlow(t *testing.T, w store.Watcher, total int) {
	t.Helper()
	var last int64
	for i := range total {
		var ev store.Event
		var ok bool
		select {
		case ev, ok = <-w.Events():
		case <-time.After(eventTimeout):
			t.Fatalf("slow watcher stalled after %d events", i)
		}
		if !ok {
			if !errors.Is(w.Err(), store.ErrExpired) {
				t.Fatalf("slow watcher ended after %d events with %v; want ErrExpired", i, w.Err())
			}
			return
		}
		if ev.Object.ResourceVersion <= last || ev.Object.Name != fmt.Sprintf("b%05d", i) {
			t.Fatalf("slow watcher event %d: %s rv=%d after rv=%d", i, ev.Object.Name, ev.Object.ResourceVersion, last)
		}
		last = ev.Object.ResourceVersion
	}
}

func testWatchEndsOnClose(t *testing.T, s store.Store) {
	w := watch(t, s, store.WatchOptions{Filter: store.Filter{Kind: "Build"}})
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	waitClosed(t, w)
	if w.Err() == nil {
		t.Fatal("watch ended by Close reports no error")
	}
	if _, err := s.Create(ctxT(t), obj("Build", "ns", "x")); err == nil {
		t.Fatal("Create on a closed store succeeded")
	}
}
