package git

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// BenchmarkFetchCheckoutWarm is the per-build cost of getting sources when
// the mirror already has them: ls-remote, a mirror lookup, reading the
// commit and exporting a one-file tree.
//
//	go test ./internal/git -run '^$' -bench FetchCheckoutWarm -benchtime 200x
func BenchmarkFetchCheckoutWarm(b *testing.B) {
	r := newRepo(b)
	head := r.commit("first", map[string]string{"Containerfile": "FROM scratch\n"})
	c := &Cache{Dir: b.TempDir()}
	if _, err := c.Fetch(ctx, r.url(), "main"); err != nil {
		b.Fatal(err)
	}
	out := b.TempDir()
	for i := 0; b.Loop(); i++ {
		commit, err := c.Fetch(ctx, r.url(), "main")
		if err != nil || commit != head {
			b.Fatalf("Fetch = %q, %v", commit, err)
		}
		dest := filepath.Join(out, strconv.Itoa(i))
		if _, err := c.Checkout(ctx, r.url(), commit, dest, ""); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := os.RemoveAll(dest); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkScheduleDispatch100k dispatches and completes each of 100,000
// watches once per op, four at a time as the Poller does: the schedule's
// cost per resolve, whatever the resolve itself costs.
//
//	go test ./internal/git -run '^$' -bench ScheduleDispatch100k
func BenchmarkScheduleDispatch100k(b *testing.B) {
	const n = 100_000
	s := &schedule{interval: time.Minute, jitter: 0.1, rand: testRand()}
	s.sync(manyWatches(n), t0)
	now := t0
	for b.Loop() {
		now = now.Add(2 * time.Minute) // all due
		dispatched := 0
		for jobs := s.due(now, 4); len(jobs) > 0; jobs = s.due(now, 4) {
			for _, j := range jobs {
				s.resolved(j, "c1", nil, now)
			}
			dispatched += len(jobs)
		}
		if dispatched != n {
			b.Fatalf("dispatched %d; want %d", dispatched, n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/dispatch")
}

// BenchmarkScheduleSync100k is a refresh of 100,000 unchanged watches.
func BenchmarkScheduleSync100k(b *testing.B) {
	s := &schedule{interval: time.Minute, jitter: 0.1, rand: testRand()}
	ws := manyWatches(100_000)
	s.sync(ws, t0)
	b.ReportAllocs()
	for b.Loop() {
		s.sync(ws, t0)
	}
}
