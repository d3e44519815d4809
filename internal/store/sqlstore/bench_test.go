package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/pgtest"
	"github.com/kilnbuild/kiln/internal/store"
	"github.com/kilnbuild/kiln/internal/store/sqlstore"
)

// Benchmark dataset: seedObjects objects of kind "Build" spread over
// seedNamespaces namespaces; 1% carry tier=gold.
const (
	seedObjects    = 100_000
	seedNamespaces = 100
	seedBatch      = 1000
)

// BenchmarkSQLite and BenchmarkPostgres run the same sub-benchmarks; the
// 100k-object dataset is seeded once per backend, on first use.
//
//	go test ./internal/store/sqlstore -run '^$' -bench . -benchtime 2000x
//
// PostgreSQL runs on pgtest's throw-away cluster, which has fsync off. To
// include the commit's WAL flush, as in production, point
// KILN_TEST_POSTGRES_DSN at a cluster with default settings (started like
// scripts/bench-api.sh does).
func BenchmarkSQLite(b *testing.B) {
	open := func(b *testing.B) store.Store {
		s, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "bench.db"), store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	runBenchmarks(b, open)
}

func BenchmarkPostgres(b *testing.B) {
	open := func(b *testing.B) store.Store {
		s, err := sqlstore.OpenPostgres(context.Background(), pgtest.Start(b), store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	runBenchmarks(b, open)
}

func runBenchmarks(b *testing.B, open func(*testing.B) store.Store) {
	var once sync.Once
	var seeded store.Store
	parent := b // the dataset must outlive the sub-benchmark that seeds it
	big := func(b *testing.B) store.Store {
		once.Do(func() {
			seeded = open(parent)
			// Registered after open's own cleanups, so it runs before them.
			parent.Cleanup(func() { _ = seeded.Close() })
			seedBench(b, seeded)
		})
		return seeded
	}
	b.Run("Create8Writers", func(b *testing.B) { benchCreate(b, open(b)) })
	b.Run("Get", func(b *testing.B) { benchGet(b, big(b)) })
	b.Run("GetUpdate8Writers", func(b *testing.B) { benchGetUpdate(b, big(b)) })
	b.Run("ListPage500Namespace", func(b *testing.B) { benchListNamespace(b, big(b)) })
	b.Run("ListPage500AllNamespaces", func(b *testing.B) { benchListAll(b, big(b)) })
	b.Run("ListLabel1Pct", func(b *testing.B) { benchListLabel(b, big(b)) })
	b.Run("WatchLatency", func(b *testing.B) { benchWatchLatency(b, big(b)) })
}

func benchObject(i int) *store.Object {
	o := &store.Object{Kind: "Build", Namespace: fmt.Sprintf("ns-%03d", i%seedNamespaces),
		Name:      fmt.Sprintf("build-%07d", i),
		Labels:    map[string]string{"app": fmt.Sprintf("app-%02d", i%50), "team": "t" + fmt.Sprint(i%7)},
		Fields:    map[string]string{"spec.application": fmt.Sprintf("app-%02d", i%50)},
		OwnerUIDs: []string{fmt.Sprintf("owner-%05d", i/10)},
		Data: fmt.Appendf(nil, `{"apiVersion":"kiln.dev/v1alpha1","kind":"Build","metadata":{"name":"build-%07d"},`+
			`"spec":{"application":"app-%02d","source":{"git":"https://example.com/repo.git","revision":"%040d"}},`+
			`"status":{"phase":"Succeeded","startTime":"2026-01-01T00:00:00Z"}}`, i, i%50, i)}
	if i%100 == 0 {
		o.Labels["tier"] = "gold"
	}
	return o
}

func seedBench(b *testing.B, s store.Store) {
	start := time.Now()
	ctx := context.Background()
	for i := 0; i < seedObjects; i += seedBatch {
		ops := make([]store.Op, 0, seedBatch)
		for j := i; j < i+seedBatch; j++ {
			ops = append(ops, store.Op{Type: store.OpCreate, Object: benchObject(j)})
		}
		if _, err := s.Batch(ctx, ops); err != nil {
			b.Fatalf("seeding: %v", err)
		}
	}
	b.Logf("seeded %d objects in %v (%.0f objects/s)", seedObjects, time.Since(start),
		seedObjects/time.Since(start).Seconds())
}

// benchCreate creates objects from 8 goroutines (parallelism x GOMAXPROCS).
func benchCreate(b *testing.B, s store.Store) {
	defer s.Close()
	var n atomic.Int64
	b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Create(context.Background(), benchObject(int(n.Add(1)))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
}

func benchGet(b *testing.B, s store.Store) {
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		o := benchObject((i * 7919) % seedObjects)
		start := time.Now()
		if _, err := s.Get(ctx, o.Key()); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.ReportMetric(percentileMS(lat, 50), "p50-ms")
	b.ReportMetric(percentileMS(lat, 99), "p99-ms")
}

// benchGetUpdate is the API's status update: 8 goroutines each read a random
// object and write it back with a changed status (the index rows stay).
func benchGetUpdate(b *testing.B, s store.Store) {
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			seed := benchObject(rand.IntN(seedObjects))
			o, err := s.Get(ctx, seed.Key())
			if err == nil {
				o.Data = fmt.Appendf(seed.Data[:len(seed.Data)-2], `,"n":%d}}`, n.Add(1))
				_, err = s.Update(ctx, o)
			}
			if err != nil && !errors.Is(err, store.ErrConflict) {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
}

func benchListNamespace(b *testing.B, s store.Store) {
	benchList(b, s, 500, func(i int) store.ListOptions {
		return store.ListOptions{Filter: store.Filter{Kind: "Build", Namespace: fmt.Sprintf("ns-%03d", i%seedNamespaces)},
			Limit: 500}
	})
}

// benchListAll reads a 500-item page across all namespaces, starting from a
// continue token somewhere in the middle of the dataset.
func benchListAll(b *testing.B, s store.Store) {
	res, err := s.List(context.Background(), store.ListOptions{Filter: store.Filter{Kind: "Build"}, Limit: 50_000})
	if err != nil {
		b.Fatal(err)
	}
	benchList(b, s, 500, func(int) store.ListOptions {
		return store.ListOptions{Filter: store.Filter{Kind: "Build"}, Limit: 500, Continue: res.Continue}
	})
}

func benchListLabel(b *testing.B, s store.Store) {
	gold := []store.Requirement{{Key: "tier", Operator: store.OpEquals, Values: []string{"gold"}}}
	benchList(b, s, 500, func(int) store.ListOptions {
		return store.ListOptions{Filter: store.Filter{Kind: "Build", Labels: gold}, Limit: 500}
	})
}

func benchList(b *testing.B, s store.Store, want int, opts func(i int) store.ListOptions) {
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		res, err := s.List(ctx, opts(i))
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Items) != want {
			b.Fatalf("page has %d items, want %d", len(res.Items), want)
		}
	}
}

// benchWatchLatency measures the time from a Create returning (commit) to
// a watcher of the kind receiving the event, with the 100k-object dataset.
func benchWatchLatency(b *testing.B, s store.Store) {
	ctx := context.Background()
	rv, err := s.CurrentRV(ctx)
	if err != nil {
		b.Fatal(err)
	}
	w, err := s.Watch(ctx, store.WatchOptions{Filter: store.Filter{Kind: "Probe"}, SinceRV: rv})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	lat := make([]time.Duration, 0, b.N)   // commit (Create returned) -> event
	total := make([]time.Duration, 0, b.N) // Create called -> event
	base := rand.IntN(1 << 30)
	b.ResetTimer()
	for i := range b.N {
		o := &store.Object{Kind: "Probe", Namespace: "ns", Name: fmt.Sprintf("p-%d-%d", base, i)}
		start := time.Now()
		if _, err := s.Create(ctx, o); err != nil {
			b.Fatal(err)
		}
		committed := time.Now()
		ev := <-w.Events()
		lat = append(lat, time.Since(committed))
		total = append(total, time.Since(start))
		if ev.Object == nil || ev.Object.Name != o.Name {
			b.Fatalf("unexpected event %+v (err %v)", ev, w.Err())
		}
	}
	b.ReportMetric(percentileMS(lat, 50), "p50-ms")
	b.ReportMetric(percentileMS(lat, 99), "p99-ms")
	b.ReportMetric(percentileMS(total, 99), "p99-create+event-ms")
}

func percentileMS(d []time.Duration, p int) float64 {
	slices.Sort(d)
	return float64(d[len(d)*p/100].Microseconds()) / 1000
}
