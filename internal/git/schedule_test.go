package git

import (
	"errors"
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
	for i, want := range []time.Duration{2, 4, 8, 8, 8} {
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
	s.entries["c"].next = t0.Add(-time.Second) // overdue longest
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
