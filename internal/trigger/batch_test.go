package trigger

import (
	"sync"
	"testing"
	"time"
)

// TestBatcherGroupsByApplicationAndWindow: commits of one application
// within the window flush together, another application separately; a
// newer commit of a component replaces the older one but keeps who
// triggered the first when the commit is the same.
func TestBatcherGroupsByApplicationAndWindow(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	got := map[string][]pending{}
	done := make(chan struct{}, 4)
	b := newBatcher(40*time.Millisecond, func(ns, app string, items []pending) {
		mu.Lock()
		got[ns+"/"+app] = items
		mu.Unlock()
		done <- struct{}{}
	})
	b.add("team", "greet", pending{name: "lib", commit: "a1", by: byPending}) // the status write seen first
	b.add("team", "greet", pending{name: "lib", commit: "a1", by: "webhook:github"})
	b.add("team", "other", pending{name: "x", commit: "c1", by: "poll"})
	time.Sleep(10 * time.Millisecond)
	b.add("team", "greet", pending{name: "app", commit: "b1", by: "poll"})
	b.add("team", "greet", pending{name: "lib", commit: "a1", by: "poll"})    // same commit again
	b.add("team", "greet", pending{name: "app", commit: "b2", by: "webhook"}) // newer commit
	for range 2 {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("batches never flushed")
		}
	}
	mu.Lock()
	defer mu.Unlock()
	g := got["team/greet"]
	if len(g) != 2 || g[0].name != "app" || g[0].commit != "b2" || g[1].name != "lib" || g[1].by != "webhook:github" {
		t.Fatalf("greet batch: %+v", g)
	}
	if o := got["team/other"]; len(o) != 1 || o[0].name != "x" {
		t.Fatalf("other batch: %+v", o)
	}
}

// TestBatcherBoundsTheWait: a steady stream of commits does not delay a
// batch past maxBatchWait.
func TestBatcherBoundsTheWait(t *testing.T) {
	t.Parallel()
	flushed := make(chan int, 1)
	b := newBatcher(time.Hour, func(_, _ string, items []pending) { flushed <- len(items) })
	start := time.Now()
	b.now = func() time.Time { return start.Add(maxBatchWait - 20*time.Millisecond) }
	b.open["team/greet"] = &batch{ns: "team", app: "greet", items: map[string]pending{}, first: start}
	b.add("team", "greet", pending{name: "lib", commit: "a"})
	select {
	case n := <-flushed:
		if n != 1 {
			t.Fatalf("flushed %d items", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a batch open for maxBatchWait was not flushed")
	}
}
