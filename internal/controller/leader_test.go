package controller

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/lease"
	"github.com/kilnbuild/kiln/internal/registry"
	"github.com/kilnbuild/kiln/internal/store"
	"github.com/kilnbuild/kiln/internal/store/sqlstore"
)

// replica is one manager among several sharing a store, with a singleton
// and an every-replica controller.
type replica struct {
	m                  *Manager
	single, everywhere *recorder
	cancel             context.CancelFunc
	done               chan struct{}
	lost               atomic.Int32
}

func newRecorder() *recorder {
	return &recorder{calls: map[Request]int{}, inFlight: map[Request]bool{}}
}

func startReplica(t *testing.T, st store.Store, holder string) *replica {
	r := &replica{single: newRecorder(), everywhere: newRecorder(), done: make(chan struct{})}
	r.m = NewManager(registry.New(st, nil), slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.m.Register("single", r.single, Options{}, Source{Kind: "Widget"})
	r.m.Register("everywhere", r.everywhere, Options{EveryReplica: true}, Source{Kind: "Widget"})
	el := &lease.Elector{Store: st.(*sqlstore.Store).Leases(), Holder: holder, TTL: time.Second, Retry: 10 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	r.m.SetLeader(el, func(error) { r.lost.Add(1) })
	var ctx context.Context
	ctx, r.cancel = context.WithCancel(context.Background())
	go func() { r.m.Start(ctx); close(r.done) }()
	t.Cleanup(r.stop)
	return r
}

func (r *replica) stop() {
	r.cancel()
	<-r.done
}

func TestSingletonsRunOnTheLeaderOnly(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	a := startReplica(t, st, "a#1")
	waitUntil(t, "a leads", a.m.Leading)
	b := startReplica(t, st, "b#1")
	first := Request{Kind: "Widget", Namespace: "n", Name: "first"}
	put(t, st, "n", "first")
	waitUntil(t, "both replicas' every-replica controllers see the object", func() bool {
		return a.everywhere.count(first) >= 1 && b.everywhere.count(first) >= 1
	})
	waitUntil(t, "the leader's singleton sees it", func() bool { return a.single.count(first) >= 1 })
	if b.m.Leading() || b.single.count(first) != 0 {
		t.Fatalf("the follower runs singletons (leading %v, reconciled %d)", b.m.Leading(), b.single.count(first))
	}
	a.stop() // a graceful stop releases the lease: b takes over at once
	waitUntil(t, "b leads", b.m.Leading)
	waitUntil(t, "b's singleton lists what exists", func() bool { return b.single.count(first) >= 1 })
	if a.lost.Load() != 0 || b.lost.Load() != 0 {
		t.Fatal("a graceful hand-over was reported as a lost leadership")
	}
}

func TestLostLeadershipStopsSingletons(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	a := startReplica(t, st, "a#1")
	waitUntil(t, "a leads", a.m.Leading)
	leases := st.(*sqlstore.Store).Leases()
	cur, err := leases.Get(t.Context(), lease.LeaderLease)
	if err != nil {
		t.Fatal(err)
	}
	// Another holder takes the lease (as after a pause of a longer than
	// its TTL): a must stop its singletons and report the loss.
	if _, err := leases.Acquire(t.Context(), lease.Request{Name: lease.LeaderLease, Holder: "a#2", TTL: time.Hour, Supersede: cur.Token}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "a reports the loss", func() bool { return a.lost.Load() == 1 })
	if a.m.Leading() {
		t.Fatal("a still says it leads")
	}
	put(t, st, "n", "after")
	after := Request{Kind: "Widget", Namespace: "n", Name: "after"}
	waitUntil(t, "a's every-replica controller still runs", func() bool { return a.everywhere.count(after) >= 1 })
	if n := a.single.count(after); n != 0 {
		t.Fatalf("a's singleton reconciled after losing the lease (%d times)", n)
	}
	if !errors.Is(context.Cause(a.m.lctx), lease.ErrLost) {
		t.Fatalf("cause %v; want ErrLost", context.Cause(a.m.lctx))
	}
}
