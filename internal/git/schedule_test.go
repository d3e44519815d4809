package git

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func newSchedule(r float64) *schedule {
	return &schedule{entries: map[string]*entry{}, interval: time.Minute, jitter: 0.1, rand: func() float64 { return r }}
}

func keys(jobs []job) []string {
	var ks []string
	for _, j := range jobs {
		ks = append(ks, j.w.Key)
	}
	return ks
}

func TestScheduleFirstResolveIsSpread(t *testing.T) {
	t.Parallel()
	s := newSchedule(0.5)
	s.sync([]Watch{{Key: "a", URL: "u", Branch: "main"}, {Key: "b", URL: "u", Branch: "main", Interval: 10 * time.Minute}}, t0)
	if next, _ := s.nextDue(); !next.Equal(t0.Add(3 * time.Second)) {
		t.Errorf("first due at %v; want t0+3s (half of 10%% of 1m)", next.Sub(t0))
	}
	if got := keys(s.due(t0.Add(3*time.Second), 10)); len(got) != 1 || got[0] != "a" {
		t.Errorf("due at t0+3s: %v; want [a]", got)
	}
	if got := keys(s.due(t0.Add(30*time.Second), 10)); len(got) != 1 || got[0] != "b" {
		t.Errorf("due at t0+30s: %v; want [b] (a is busy)", got)
	}
}

func TestScheduleReportsOnlyNewCommits(t *testing.T) {
	t.Parallel()
	s := newSchedule(0.5)
	s.sync([]Watch{{Key: "a", URL: "u", Branch: "main", LastSeen: "c1"}}, t0)
	j := s.due(t0.Add(time.Hour), 1)[0]
	if s.resolved(j, "c1", nil, t0) {
		t.Error("LastSeen reported again")
	}
	if next, _ := s.nextDue(); !next.Equal(t0.Add(time.Minute)) {
		t.Errorf("next at %v; want t0+1m", next.Sub(t0))
	}
	j = s.due(t0.Add(time.Minute), 1)[0]
	if !s.resolved(j, "c2", nil, t0) {
		t.Fatal("new commit c2 not reported")
	}
	if got := s.due(t0.Add(time.Hour), 1); len(got) != 0 {
		t.Errorf("due while reporting: %v", keys(got))
	}
	s.notified(j, "c2", nil, t0)
	j = s.due(t0.Add(time.Hour), 1)[0]
	if s.resolved(j, "c2", nil, t0) {
		t.Error("c2 reported twice")
	}
}

func TestScheduleRetriesFailedReportsWithBackoff(t *testing.T) {
	t.Parallel()
	s := newSchedule(0.5)
	s.sync([]Watch{{Key: "a", URL: "u", Branch: "main", LastSeen: "c1"}}, t0)
	j := s.due(t0.Add(time.Hour), 1)[0]
	s.resolved(j, "c2", nil, t0)
	s.notified(j, "c2", errors.New("store down"), t0)
	if next, _ := s.nextDue(); !next.Equal(t0.Add(2 * time.Minute)) {
		t.Errorf("after a failed report next at %v; want t0+2m", next.Sub(t0))
	}
	j = s.due(t0.Add(time.Hour), 1)[0]
	if !s.resolved(j, "c2", nil, t0) {
		t.Error("c2 not reported again after a failed report")
	}
	s.notified(j, "c2", nil, t0)
	for i, want := range []time.Duration{2, 4, 8, 16, 32, 32} {
		j = s.due(t0.Add(time.Hour), 1)[0]
		s.resolved(j, "", errors.New("unreachable"), t0)
		if next, _ := s.nextDue(); !next.Equal(t0.Add(want * time.Minute)) {
			t.Errorf("after %d failures next at %v; want t0+%dm", i+1, next.Sub(t0), want)
		}
	}
}

func TestScheduleJitterBounds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		r    float64
		want time.Duration
	}{{0, 54 * time.Second}, {0.5, time.Minute}, {0.75, 63 * time.Second}} {
		s := newSchedule(tc.r)
		s.sync([]Watch{{Key: "a", URL: "u", Branch: "main"}}, t0)
		s.resolved(s.due(t0.Add(time.Hour), 1)[0], "", nil, t0)
		if next, _ := s.nextDue(); !next.Equal(t0.Add(tc.want)) {
			t.Errorf("rand %v: next at %v; want %v", tc.r, next.Sub(t0), tc.want)
		}
	}
}

func TestScheduleDueOrderAndLimit(t *testing.T) {
	t.Parallel()
	s := newSchedule(0)
	s.sync([]Watch{{Key: "c", URL: "u"}, {Key: "a", URL: "u"}, {Key: "b", URL: "u"}}, t0)
	s.move(s.entries["c"], t0.Add(-time.Second)) // overdue longest
	if got := keys(s.due(t0, 2)); len(got) != 2 || got[0] != "c" || got[1] != "a" {
		t.Errorf("due(max 2) = %v; want [c a]", got)
	}
	if got := keys(s.due(t0, 2)); len(got) != 1 || got[0] != "b" {
		t.Errorf("then due = %v; want [b]", got)
	}
}

func TestScheduleFollowsWatchChanges(t *testing.T) {
	t.Parallel()
	s := newSchedule(0)
	s.sync([]Watch{{Key: "a", URL: "u1", Branch: "main", LastSeen: "c1"}, {Key: "b", URL: "u"}}, t0)
	old := s.due(t0, 10)
	var ja job
	for _, j := range old {
		if j.w.Key == "a" {
			ja = j
		}
	}
	// a now points elsewhere while its resolve runs; b is gone.
	s.sync([]Watch{{Key: "a", URL: "u2", Branch: "main", LastSeen: "x1"}}, t0)
	if len(s.entries) != 1 {
		t.Errorf("entries %d; want 1", len(s.entries))
	}
	if s.resolved(ja, "c9", nil, t0) {
		t.Error("a result for the old URL was reported")
	}
	j := s.due(t0, 10)[0]
	if j.w.URL != "u2" || s.resolved(j, "x1", nil, t0) {
		t.Errorf("new URL %s: LastSeen x1 not adopted", j.w.URL)
	}
	// Someone built x2 (e.g. after a webhook): the poller adopts it.
	s.sync([]Watch{{Key: "a", URL: "u2", Branch: "main", LastSeen: "x2"}}, t0)
	if s.resolved(s.due(t0.Add(time.Hour), 1)[0], "x2", nil, t0) {
		t.Error("x2 reported although supplied as LastSeen")
	}
}

func TestScheduleWatchGoneAndBackWhileOut(t *testing.T) {
	t.Parallel()
	s := newSchedule(0)
	a := Watch{Key: "a", URL: "u", LastSeen: "c1"}
	s.sync([]Watch{a}, t0)
	old := s.due(t0, 1)[0]
	s.sync(nil, t0)
	s.sync([]Watch{a}, t0)
	cur := s.due(t0, 1)[0]
	if s.resolved(old, "c2", nil, t0) {
		t.Error("a result for the vanished watch was reported")
	}
	if got := s.due(t0.Add(time.Hour), 1); len(got) != 0 {
		t.Errorf("due while the current resolve is out: %v", keys(got))
	}
	if !s.resolved(cur, "c2", nil, t0) {
		t.Error("the current resolve's new commit was not reported")
	}
}

// testRand is a fixed-seed source, so failures can be reproduced.
func testRand() func() float64 { return rand.New(rand.NewPCG(1, 2)).Float64 }

func manyWatches(n int) []Watch {
	ws := make([]Watch, n)
	for i := range ws {
		ws[i] = Watch{Key: fmt.Sprintf("ns/c%06d", i), URL: fmt.Sprintf("https://git.example.com/ns/c%d.git", i),
			Branch: "main", LastSeen: "c1"}
	}
	return ws
}

// TestScheduleHeapOrder: entries come due by time, then key, whatever
// the order they were added, moved or finished in.
func TestScheduleHeapOrder(t *testing.T) {
	t.Parallel()
	s := &schedule{interval: time.Minute, jitter: 1, rand: testRand()}
	ws := manyWatches(1000)
	r := rand.New(rand.NewPCG(3, 4))
	r.Shuffle(len(ws), func(i, j int) { ws[i], ws[j] = ws[j], ws[i] })
	s.sync(ws, t0)
	for _, w := range ws[:300] { // ties, broken by key
		s.move(s.entries[w.Key], t0)
	}
	for _, j := range s.due(t0.Add(30*time.Second), 200) {
		s.resolved(j, "c1", nil, t0.Add(time.Duration(r.IntN(60))*time.Second))
	}
	type due struct {
		at  time.Time
		key string
	}
	var want []due
	for k, e := range s.entries {
		want = append(want, due{e.next, k})
	}
	slices.SortFunc(want, func(a, b due) int { return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.key, b.key)) })
	got := keys(s.due(t0.Add(time.Hour), len(ws)))
	for i := range want {
		if got[i] != want[i].key {
			t.Fatalf("dispatch %d is %s; want %s (due %v)", i, got[i], want[i].key, want[i].at.Sub(t0))
		}
	}
}

// TestScheduleDispatches100k: each of 100,000 watches resolves once in
// its first interval, and the heap stays one.
func TestScheduleDispatches100k(t *testing.T) {
	t.Parallel()
	s := &schedule{interval: time.Minute, jitter: 0.1, rand: testRand()}
	ws := manyWatches(100_000)
	s.sync(ws, t0)
	f := newForge()
	drive(s, t0, t0.Add(50*time.Second), f.resolve)
	for _, w := range ws {
		if got := f.times[w.Key]; len(got) != 1 || got[0] >= 6*time.Second {
			t.Fatalf("%s resolved at %v; want once, within 6 s", w.Key, got)
		}
	}
	for i := 1; i < len(s.idle); i++ {
		if s.idle.Less(i, (i-1)/2) || s.idle[i].index != i {
			t.Fatalf("heap broken at %d", i)
		}
	}
}

func TestEntryBackoff(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		every time.Duration
		fails int
		want  time.Duration
	}{
		{time.Minute, 0, time.Minute},
		{time.Minute, 1, 2 * time.Minute},
		{time.Minute, 5, 32 * time.Minute},
		{time.Minute, 50, 32 * time.Minute},
		{5 * time.Minute, 5, time.Hour},   // 32 intervals, but an hour at most
		{2 * time.Hour, 3, 2 * time.Hour}, // never below the interval
	} {
		if got := entryBackoff(tc.every, tc.fails); got != tc.want {
			t.Errorf("entryBackoff(%v, %d) = %v; want %v", tc.every, tc.fails, got, tc.want)
		}
	}
}

// TestScheduleSyncAllocs: a refresh that changes nothing allocates
// nothing, however many watches there are.
func TestScheduleSyncAllocs(t *testing.T) {
	s := &schedule{interval: time.Minute, jitter: 0.1, rand: testRand()}
	ws := manyWatches(10_000)
	s.sync(ws, t0)
	if n := testing.AllocsPerRun(10, func() { s.sync(ws, t0) }); n != 0 {
		t.Errorf("sync allocates %v times; want 0", n)
	}
}

// TestSchedulePutAndDropKeepHostsExact applies deltas without a sync: the
// host's watch count and its probe follow them, and a dropped watch's
// outstanding resolve is ignored.
func TestSchedulePutAndDropKeepHostsExact(t *testing.T) {
	t.Parallel()
	s := newSchedule(0.5)
	s.put(Watch{Key: "a", URL: "https://h/a", LastSeen: "a1"}, t0)
	s.put(Watch{Key: "b", URL: "https://h/b", Interval: 10 * time.Second}, t0)
	h := s.hosts["https://h"]
	if h == nil || h.n != 2 || h.shortest != 10*time.Second {
		t.Fatalf("host after two puts: %+v; want 2 watches, shortest 10s", h)
	}
	s.put(Watch{Key: "a", URL: "https://h/a", LastSeen: "a2"}, t0) // someone built a2
	if e := s.entries["a"]; e.last != "a2" || e.index < 0 {
		t.Errorf("a after an update: last %q, index %d; want a2, still idle", e.last, e.index)
	}
	jobs := s.due(t0.Add(time.Hour), 10)
	if len(jobs) != 2 {
		t.Fatalf("due: %v; want a and b", keys(jobs))
	}
	s.drop("b")
	jb := jobs[slices.IndexFunc(jobs, func(j job) bool { return j.w.Key == "b" })]
	if s.resolved(jb, "b1", nil, t0) || s.entries["b"] != nil {
		t.Error("a dropped watch's resolve was reported")
	}
	s.drop("a")
	s.drop("missing")
	if len(s.hosts) != 0 || len(s.entries) != 0 || len(s.idle) != 0 {
		t.Errorf("after dropping all: %d hosts, %d entries, %d idle; want none", len(s.hosts), len(s.entries), len(s.idle))
	}
}
