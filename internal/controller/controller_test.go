package controller

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/registry"
	"github.com/kilnbuild/kiln/internal/store"
	"github.com/kilnbuild/kiln/internal/store/sqlstore"
)

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "kiln.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func put(t *testing.T, st store.Store, ns, name string) {
	t.Helper()
	if _, err := st.Create(t.Context(), &store.Object{Kind: "Widget", Namespace: ns, Name: name, Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
}

// recorder counts reconciles per key and can fail the first n attempts.
type recorder struct {
	mu       sync.Mutex
	calls    map[Request]int
	failFor  int
	inFlight map[Request]bool
	overlap  bool
}

func (r *recorder) Reconcile(_ context.Context, req Request) (Result, error) {
	r.mu.Lock()
	if r.inFlight[req] {
		r.overlap = true
	}
	r.inFlight[req] = true
	r.calls[req]++
	n := r.calls[req]
	r.mu.Unlock()
	time.Sleep(2 * time.Millisecond)
	r.mu.Lock()
	delete(r.inFlight, req)
	r.mu.Unlock()
	if n <= r.failFor {
		return Result{}, errors.New("transient")
	}
	return Result{}, nil
}

func (r *recorder) count(req Request) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[req]
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func start(t *testing.T, st store.Store, r Reconciler, opts Options) {
	ctx, cancel := context.WithCancel(context.Background())
	m := NewManager(registry.New(st, nil), slog.New(slog.NewTextHandler(io.Discard, nil)))
	m.Register("test", r, opts, Source{Kind: "Widget"})
	done := make(chan struct{})
	go func() { m.Start(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func TestControllerSeesExistingAndNewObjects(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	put(t, st, "a", "before")
	r := &recorder{calls: map[Request]int{}, inFlight: map[Request]bool{}}
	start(t, st, r, Options{Workers: 4})
	waitUntil(t, "existing object reconciled", func() bool { return r.count(Request{Kind: "Widget", Namespace: "a", Name: "before"}) >= 1 })
	put(t, st, "a", "after")
	waitUntil(t, "new object reconciled", func() bool { return r.count(Request{Kind: "Widget", Namespace: "a", Name: "after"}) >= 1 })
	if r.overlap {
		t.Fatal("one key was reconciled by two workers at once")
	}
}

func TestControllerRetriesFailuresWithBackoff(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	r := &recorder{calls: map[Request]int{}, inFlight: map[Request]bool{}, failFor: 3}
	start(t, st, r, Options{BaseBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	put(t, st, "a", "flaky")
	waitUntil(t, "success after 3 failures", func() bool { return r.count(Request{Kind: "Widget", Namespace: "a", Name: "flaky"}) == 4 })
	time.Sleep(50 * time.Millisecond)
	if n := r.count(Request{Kind: "Widget", Namespace: "a", Name: "flaky"}); n != 4 {
		t.Fatalf("reconciled %d times, want exactly 4 (3 failures + 1 success)", n)
	}
}

func TestControllerResyncRevisitsObjects(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	put(t, st, "a", "x")
	r := &recorder{calls: map[Request]int{}, inFlight: map[Request]bool{}}
	start(t, st, r, Options{Resync: 30 * time.Millisecond})
	waitUntil(t, "periodic resync", func() bool { return r.count(Request{Kind: "Widget", Namespace: "a", Name: "x"}) >= 3 })
}

// TestSettledObjectsAreNotListedAgain: a source's settled objects (a
// finished build) are skipped by the initial list and every resync, so
// their cost does not grow with history; a change to one still arrives.
func TestSettledObjectsAreNotListedAgain(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	for name, phase := range map[string]string{"done": "Done", "live": "Running"} {
		o := &store.Object{Kind: "Widget", Namespace: "a", Name: name, Fields: map[string]string{"status.phase": phase}, Data: []byte(`{}`)}
		if _, err := st.Create(t.Context(), o); err != nil {
			t.Fatal(err)
		}
	}
	r := &recorder{calls: map[Request]int{}, inFlight: map[Request]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	m := NewManager(registry.New(st, nil), slog.New(slog.NewTextHandler(io.Discard, nil)))
	settled := func(o *store.Object) bool { return o.Fields["status.phase"] == "Done" }
	m.Register("test", r, Options{Resync: 20 * time.Millisecond}, Source{Kind: "Widget", Settled: settled})
	done := make(chan struct{})
	go func() { m.Start(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	live, settledReq := Request{Kind: "Widget", Namespace: "a", Name: "live"}, Request{Kind: "Widget", Namespace: "a", Name: "done"}
	waitUntil(t, "three resyncs", func() bool { return r.count(live) >= 3 })
	if n := r.count(settledReq); n != 0 {
		t.Fatalf("a settled object was reconciled %d times by lists", n)
	}
	got, err := st.Get(t.Context(), store.Key{Kind: "Widget", Namespace: "a", Name: "done"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Update(t.Context(), got); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the settled object's change", func() bool { return r.count(settledReq) >= 1 })
}
