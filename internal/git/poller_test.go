package git

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeClock moves only when the test advances it.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := fakeWaiter{at: c.now.Add(d), ch: make(chan time.Time, 1)}
	c.waiters = append(c.waiters, w)
	c.fire()
	return w.ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.fire()
}

func (c *fakeClock) fire() {
	c.waiters = slices.DeleteFunc(c.waiters, func(w fakeWaiter) bool {
		if w.at.After(c.now) {
			return false
		}
		w.ch <- c.now
		return true
	})
}

// runUntil advances the clock in steps until cond holds, failing after
// five real seconds. Exact timing is the schedule's tests' business.
func (c *fakeClock) runUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		c.Advance(5 * time.Second)
		time.Sleep(time.Millisecond)
	}
}

// fakeRemote is a resolver over a map of heads that records what it saw.
type fakeRemote struct {
	mu       sync.Mutex
	heads    map[string]string // URL → head
	resolves map[string]int    // key → count
	reports  []string          // "key=commit" of successful callbacks
	failNext map[string]bool   // key → fail its next callback
	active   int
	peak     int
}

func newFakeRemote(heads map[string]string) *fakeRemote {
	return &fakeRemote{heads: heads, resolves: map[string]int{}, failNext: map[string]bool{}}
}

func (f *fakeRemote) resolve(_ context.Context, w Watch) (string, error) {
	f.mu.Lock()
	f.active++
	f.peak = max(f.peak, f.active)
	f.mu.Unlock()
	time.Sleep(time.Millisecond) // overlap with other resolves
	f.mu.Lock()
	defer f.mu.Unlock()
	f.active--
	f.resolves[w.Key]++
	head, ok := f.heads[w.URL]
	if !ok {
		return "", ErrRepoNotFound
	}
	return head, nil
}

func (f *fakeRemote) report(_ context.Context, key, commit string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failNext[key] {
		f.failNext[key] = false
		return errors.New("store unavailable")
	}
	f.reports = append(f.reports, key+"="+commit)
	return nil
}

func (f *fakeRemote) locked(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

// holds turns cond into a condition evaluated under the lock.
func (f *fakeRemote) holds(cond func() bool) func() bool {
	return func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return cond()
	}
}

func startPoller(t *testing.T, p *Poller) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func TestPollerReportsEachNewCommitOnce(t *testing.T) {
	t.Parallel()
	remote := newFakeRemote(map[string]string{"u1": "a1", "u2": "b1", "u3": "c1"})
	remote.failNext["c"] = true
	clock := &fakeClock{now: t0}
	watches := []Watch{
		{Key: "a", URL: "u1", Branch: "main", LastSeen: "a1"}, // known: not reported
		{Key: "b", URL: "u2", Branch: "main"},                 // unknown: reported
		{Key: "c", URL: "u3", Branch: "main", LastSeen: "c0"}, // report fails once
		{Key: "d", URL: "gone", Branch: "main"},               // resolve fails
	}
	startPoller(t, &Poller{
		Watches:     func(context.Context) ([]Watch, error) { return watches, nil },
		OnNewCommit: remote.report, Resolve: remote.resolve, Clock: clock, rand: func() float64 { return 0.5 },
		Interval: time.Minute, Refresh: time.Hour, Concurrency: 2,
	})
	resolves := func(key string, n int) func() bool {
		return remote.holds(func() bool { return remote.resolves[key] >= n })
	}
	clock.runUntil(t, "c reported after its retry", resolves("c", 3))
	remote.locked(func() { remote.heads["u1"] = "a2" })
	before := 0
	remote.locked(func() { before = remote.resolves["a"] })
	clock.runUntil(t, "three more resolves of a", resolves("a", before+3))
	clock.runUntil(t, "another round of c", resolves("c", 5))

	remote.locked(func() {
		slices.Sort(remote.reports)
		if want := []string{"a=a2", "b=b1", "c=c1"}; !slices.Equal(remote.reports, want) {
			t.Errorf("reports %v; want %v", remote.reports, want)
		}
		if remote.peak > 2 {
			t.Errorf("%d resolves at once; want at most 2", remote.peak)
		}
	})
}

func TestPollerRefreshesWatches(t *testing.T) {
	t.Parallel()
	remote := newFakeRemote(map[string]string{"u1": "a1", "u2": "b1"})
	clock := &fakeClock{now: t0}
	var mu sync.Mutex
	watches := []Watch{{Key: "a", URL: "u1"}}
	calls := 0
	startPoller(t, &Poller{
		Watches: func(context.Context) ([]Watch, error) {
			mu.Lock()
			defer mu.Unlock()
			calls++
			if calls == 2 {
				return nil, errors.New("store down") // keeps the previous list
			}
			return slices.Clone(watches), nil
		},
		OnNewCommit: remote.report, Resolve: remote.resolve, Clock: clock,
		Interval: time.Minute, Refresh: 2 * time.Minute,
	})
	reported := func(r string) func() bool {
		return remote.holds(func() bool { return slices.Contains(remote.reports, r) })
	}
	clock.runUntil(t, "a reported", reported("a=a1"))
	mu.Lock()
	watches = append(watches, Watch{Key: "b", URL: "u2"})
	mu.Unlock()
	clock.runUntil(t, "b reported after a refresh", reported("b=b1"))
}

// TestPollerRealRepository polls a real repository over file:// with the
// real clock: a new commit is reported exactly once.
func TestPollerRealRepository(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	first := r.commit("first", map[string]string{"a": "1"})
	var mu sync.Mutex
	var reports []string
	resolves := 0
	home := t.TempDir()
	startPoller(t, &Poller{
		Watches: func(context.Context) ([]Watch, error) {
			return []Watch{{Key: "ns/app", URL: r.url(), Branch: "main", LastSeen: first}}, nil
		},
		OnNewCommit: func(_ context.Context, key, commit string) error {
			mu.Lock()
			defer mu.Unlock()
			reports = append(reports, key+"="+commit)
			return nil
		},
		Resolve: func(ctx context.Context, w Watch) (string, error) {
			c, err := Resolve(ctx, w.URL, w.Branch, Options{Home: home, Credentials: w.Credentials})
			mu.Lock()
			resolves++
			mu.Unlock()
			return c, err
		},
		Interval: 10 * time.Millisecond, Refresh: 10 * time.Millisecond,
	})
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			mu.Lock()
			ok := cond()
			mu.Unlock()
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	waitFor("three resolves", func() bool { return resolves >= 3 })
	second := r.commit("second", map[string]string{"a": "2"})
	waitFor("the new commit", func() bool { return len(reports) > 0 })
	n := resolves
	waitFor("three more resolves", func() bool { return resolves >= n+3 })
	mu.Lock()
	defer mu.Unlock()
	if want := []string{fmt.Sprintf("ns/app=%s", second)}; !slices.Equal(reports, want) {
		t.Errorf("reports %v; want %v", reports, want)
	}
}

// TestPollerFollowsChanges feeds the poller a full list, then deltas, and
// no Watches function: additions, URL changes and deletions take effect
// without any list.
func TestPollerFollowsChanges(t *testing.T) {
	t.Parallel()
	remote := newFakeRemote(map[string]string{"u1": "a1", "u2": "b1", "u3": "c1"})
	clock := &fakeClock{now: t0}
	in := make(chan WatchChange)
	startPoller(t, &Poller{
		Follow: func(ctx context.Context, out chan<- WatchChange) {
			for {
				select {
				case c := <-in:
					select {
					case out <- c:
					case <-ctx.Done():
						return
					}
				case <-ctx.Done():
					return
				}
			}
		},
		OnNewCommit: remote.report, Resolve: remote.resolve, Clock: clock, rand: func() float64 { return 0.5 },
		Interval: time.Minute,
	})
	reported := func(r string) func() bool {
		return remote.holds(func() bool { return slices.Contains(remote.reports, r) })
	}
	in <- WatchChange{Reset: true, Put: []Watch{{Key: "a", URL: "u1"}}}
	clock.runUntil(t, "a reported", reported("a=a1"))
	in <- WatchChange{Put: []Watch{{Key: "b", URL: "u2"}}}
	clock.runUntil(t, "b reported after being added", reported("b=b1"))
	in <- WatchChange{Put: []Watch{{Key: "a", URL: "u3"}}}
	clock.runUntil(t, "a's new repository reported", reported("a=c1"))

	in <- WatchChange{Delete: []string{"b"}}
	in <- WatchChange{} // once both are taken, the deletion was applied
	in <- WatchChange{}
	var b, a int
	remote.locked(func() { b, a = remote.resolves["b"], remote.resolves["a"] })
	clock.runUntil(t, "three more resolves of a", remote.holds(func() bool { return remote.resolves["a"] >= a+3 }))
	remote.locked(func() {
		if n := remote.resolves["b"]; n > b+1 { // one may have been out
			t.Errorf("b resolved %d more times after its deletion; want none", n-b)
		}
		if want := []string{"a=a1", "b=b1", "a=c1"}; !slices.Equal(remote.reports, want) {
			t.Errorf("reports %v; want %v", remote.reports, want)
		}
	})
}
