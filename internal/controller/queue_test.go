package controller

import (
	"sync"
	"testing"
	"time"
)

func TestQueueDeduplicatesAndRequeuesDuringProcessing(t *testing.T) {
	t.Parallel()
	q := NewQueue[string](time.Millisecond, 10*time.Millisecond)
	q.Add("a")
	q.Add("a")
	q.Add("b")
	if q.Len() != 2 {
		t.Fatalf("Len = %d, want 2 (a de-duplicated)", q.Len())
	}
	k, _ := q.Get()
	if k != "a" {
		t.Fatalf("Get = %q, want a", k)
	}
	q.Add("a") // changed while processing: must come back after Done
	if q.Len() != 1 {
		t.Fatalf("a queued twice while processing: Len = %d", q.Len())
	}
	q.Done("a")
	got := []string{}
	for q.Len() > 0 {
		k, _ := q.Get()
		got = append(got, k)
		q.Done(k)
	}
	if len(got) != 2 || got[0] != "b" || got[1] != "a" {
		t.Fatalf("order = %v, want [b a]", got)
	}
}

func TestQueueBackoffGrowsAndCaps(t *testing.T) {
	t.Parallel()
	q := NewQueue[string](10*time.Millisecond, 50*time.Millisecond)
	want := []time.Duration{10, 20, 40, 50, 50}
	for i, w := range want {
		if got := q.backoff(i); got != w*time.Millisecond {
			t.Errorf("backoff(%d) = %v, want %v", i, got, w*time.Millisecond)
		}
	}
}

func TestQueueAddAfterAndShutdown(t *testing.T) {
	t.Parallel()
	q := NewQueue[string](time.Millisecond, time.Second)
	q.AddAfter("x", 20*time.Millisecond)
	start := time.Now()
	k, ok := q.Get()
	if !ok || k != "x" || time.Since(start) < 15*time.Millisecond {
		t.Fatalf("Get = %q %v after %v", k, ok, time.Since(start))
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _, ok = q.Get() }()
	q.ShutDown()
	wg.Wait()
	if ok {
		t.Fatal("Get returned a key after shutdown")
	}
}
