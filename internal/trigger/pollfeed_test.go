package trigger

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/git"
	"github.com/kilnbuild/kiln/internal/registry"
	"github.com/kilnbuild/kiln/internal/store"
	"github.com/kilnbuild/kiln/internal/store/sqlstore"
)

// listCountingStore counts the lists of components read through it.
type listCountingStore struct {
	store.Store
	lists atomic.Int64
}

func (s *listCountingStore) List(ctx context.Context, opts store.ListOptions) (*store.ListResult, error) {
	if opts.Kind == "Component" {
		s.lists.Add(1)
	}
	return s.Store.List(ctx, opts)
}

// pollRecorder is what the poller under test resolved.
type pollRecorder struct {
	mu       sync.Mutex
	resolved []string // "key url" of each resolve
}

func (r *pollRecorder) resolve(_ context.Context, w git.Watch) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.resolved = append(r.resolved, w.Key+" "+w.URL)
	return "1111111111111111111111111111111111111111", nil
}

func (r *pollRecorder) waitFor(t *testing.T, what string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		r.mu.Lock()
		ok := slices.Contains(r.resolved, what)
		r.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for a resolve of %q", what)
		}
	}
}

// TestPollerFollowsComponentEvents: after the initial list, components
// created, changed and deleted reach the poller as deltas from the store
// watch, without another list of components.
func TestPollerFollowsComponentEvents(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sql, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(dir, "kiln.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sql.Close() })
	st := &listCountingStore{Store: sql}
	e := newEnv(t, st, dir)

	rec := &pollRecorder{}
	var changes []git.WatchChange // as the poller received them
	var mu sync.Mutex
	p := New(e.reg, Options{Git: &git.Cache{Dir: filepath.Join(dir, "git")}, Log: slog.New(slog.DiscardHandler)}).Poller(dir)
	follow := p.Follow
	p.Follow = func(ctx context.Context, out chan<- git.WatchChange) {
		mid := make(chan git.WatchChange)
		go follow(ctx, mid)
		for {
			select {
			case c := <-mid:
				mu.Lock()
				changes = append(changes, c)
				mu.Unlock()
				select {
				case out <- c:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}
	p.Resolve, p.Jitter = rec.resolve, -1 // new watches are due at once
	p.OnNewCommit = func(context.Context, string, string) error { return nil }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	rec.waitFor(t, "team/lib https://example.com/lib.git")
	e.create(t, "Component", "team", `{"metadata":{"name":"new"},"spec":{"application":"app","source":{"git":{"url":"https://example.com/new.git"}}}}`)
	rec.waitFor(t, "team/new https://example.com/new.git")
	if _, err := e.reg.Patch(t.Context(), componentKind, "team", "new", registry.MergePatch,
		[]byte(`{"spec":{"source":{"git":{"url":"https://example.com/moved.git"}}}}`), registry.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "team/new https://example.com/moved.git")
	if _, _, err := e.reg.Delete(t.Context(), componentKind, "team", "new", registry.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deleted := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.ContainsFunc(changes, func(c git.WatchChange) bool { return slices.Contains(c.Delete, "team/new") })
	}
	for deadline := time.Now().Add(5 * time.Second); !deleted(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the deletion of team/new never reached the poller")
		}
	}

	if n := st.lists.Load(); n != 1 {
		t.Errorf("%d lists of components; want 1 (the initial list, then watch events only)", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(changes) < 4 || !changes[0].Reset || len(changes[0].Put) != 1 || changes[0].Put[0].Key != "team/lib" {
		t.Fatalf("changes %+v; want a full set of team/lib first, then deltas", changes)
	}
	for _, c := range changes[1:] {
		if c.Reset {
			t.Errorf("a full set after the first: %+v", c)
		}
	}
}

// TestComponentFeedBatchKeepsLastStatePerComponent: a component deleted
// and created again within one batch is put, not dropped.
func TestComponentFeedBatchKeepsLastStatePerComponent(t *testing.T) {
	t.Parallel()
	obj := func(name string) *store.Object {
		return &store.Object{Kind: "Component", Namespace: "team", Name: name,
			Data: []byte(`{"apiVersion":"kiln.dev/v1alpha1","kind":"Component","metadata":{"name":"` + name + `","namespace":"team"},"spec":{"application":"app","source":{"git":{"url":"https://example.com/` + name + `.git"}}}}`)}
	}
	f := &componentFeed{reg: registry.New(nil, nil), log: slog.New(slog.DiscardHandler),
		watchOf: New(nil, Options{}).watchOf}
	more := make(chan store.Event, 3)
	more <- store.Event{Type: store.Added, Object: obj("a")}
	more <- store.Event{Type: store.Deleted, Object: obj("b")}
	more <- store.Event{Type: store.Added, Object: obj("b")}
	c := f.batch(store.Event{Type: store.Deleted, Object: obj("a")}, more)
	var put []string
	for _, w := range c.Put {
		put = append(put, w.Key+" "+w.URL)
	}
	if want := []string{"team/a https://example.com/a.git", "team/b https://example.com/b.git"}; !slices.Equal(put, want) || len(c.Delete) != 0 || c.Reset {
		t.Errorf("batch put %v, deleted %v; want put %v, nothing deleted", put, c.Delete, want)
	}
}

// TestFirstBuildsSpareAnUnreachableHost: once one first build finds a
// host unreachable, the next components on it start no git process (no
// mirror appears); polled ones are left to the poller, others retried
// after the host's back-off.
func TestFirstBuildsSpareAnUnreachableHost(t *testing.T) {
	t.Parallel()
	e := setup(t)
	const host = "http://127.0.0.1:1/" // nothing listens: connection refused
	for _, c := range []struct{ name, build string }{{"a", ""}, {"b", ""}, {"c", `,"build":{"pollInterval":"0s"}`}} {
		e.create(t, "Component", "team", `{"metadata":{"name":"`+c.name+`"},"spec":{"application":"app","source":{"git":{"url":"`+host+c.name+`.git"}}`+c.build+`}}`)
	}
	cache := &git.Cache{Dir: filepath.Join(e.dir, "git")}
	s := New(e.reg, Options{Git: cache, Log: slog.New(slog.DiscardHandler)})
	for _, c := range []struct {
		name    string
		fetched bool
		requeue bool
	}{{"a", true, false}, {"b", false, false}, {"c", false, true}} {
		comp, err := registry.Get[v1alpha1.Component](t.Context(), e.reg, "team", c.name)
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.firstBuild(t.Context(), comp)
		if err != nil {
			t.Fatalf("first build of %s: %v", c.name, err)
		}
		if _, statErr := os.Stat(cache.MirrorDir(host + c.name + ".git")); (statErr == nil) != c.fetched {
			t.Errorf("%s fetched: %v; want %v", c.name, statErr == nil, c.fetched)
		}
		if (res.RequeueAfter > 0) != c.requeue {
			t.Errorf("%s requeued after %v; want a requeue: %v", c.name, res.RequeueAfter, c.requeue)
		}
	}
}
