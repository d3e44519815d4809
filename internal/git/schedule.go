package git

import (
	"sort"
	"time"
)

// schedule is the Poller's state and decisions, free of I/O and clocks so
// tests can drive it with explicit times. It is not safe for concurrent
// use: the Poller's loop owns it.
type schedule struct {
	entries  map[string]*entry
	gen      int            // numbers entries, so results for replaced ones are dropped
	interval time.Duration  // for watches without one
	jitter   float64        // fraction of the interval, e.g. 0.1
	rand     func() float64 // in [0, 1)
}

type entry struct {
	w     Watch
	given string    // the LastSeen supplied last
	last  string    // the newest commit reported (or supplied)
	next  time.Time // when to resolve next
	fails int       // consecutive failures, for back-off
	busy  bool      // a resolve or callback is running
	gen   int
}

// job is one resolve to run.
type job struct {
	w   Watch
	gen int
}

// sync makes the schedule follow the current watches: new ones are due
// within the first jitter fraction of their interval, vanished ones are
// dropped, ones whose URL or branch changed start over, and a changed
// LastSeen (someone built that commit) is adopted.
func (s *schedule) sync(ws []Watch, now time.Time) {
	present := make(map[string]bool, len(ws))
	for _, w := range ws {
		present[w.Key] = true
		e, ok := s.entries[w.Key]
		if !ok || e.w.URL != w.URL || e.w.Branch != w.Branch {
			s.gen++
			s.entries[w.Key] = &entry{w: w, given: w.LastSeen, last: w.LastSeen, gen: s.gen,
				next: now.Add(time.Duration(s.rand() * s.jitter * float64(s.every(w)))), busy: ok && e.busy}
			continue
		}
		e.w = w
		if w.LastSeen != e.given {
			e.given, e.last = w.LastSeen, w.LastSeen
		}
	}
	for k := range s.entries {
		if !present[k] {
			delete(s.entries, k)
		}
	}
}

func (s *schedule) every(w Watch) time.Duration {
	if w.Interval > 0 {
		return w.Interval
	}
	return s.interval
}

// due returns up to max jobs whose time has come, earliest first, and
// marks them busy.
func (s *schedule) due(now time.Time, max int) []job {
	var ready []*entry
	for _, e := range s.entries {
		if !e.busy && !e.next.After(now) {
			ready = append(ready, e)
		}
	}
	sort.Slice(ready, func(i, j int) bool {
		if !ready[i].next.Equal(ready[j].next) {
			return ready[i].next.Before(ready[j].next)
		}
		return ready[i].w.Key < ready[j].w.Key
	})
	if len(ready) > max {
		ready = ready[:max]
	}
	jobs := make([]job, len(ready))
	for i, e := range ready {
		e.busy = true
		jobs[i] = job{w: e.w, gen: e.gen}
	}
	return jobs
}

// entry returns j's entry; ok is false when the watch went away or was
// replaced meanwhile (then only its busy mark is cleared).
func (s *schedule) entry(j job) (*entry, bool) {
	e, ok := s.entries[j.w.Key]
	if ok && e.gen != j.gen {
		e.busy = false
		return nil, false
	}
	return e, ok
}

// resolved records a resolve's outcome and reports whether commit is new
// and must be reported; if so the entry stays busy until notified.
func (s *schedule) resolved(j job, commit string, err error, now time.Time) bool {
	e, ok := s.entry(j)
	if !ok {
		return false
	}
	if err == nil && commit != e.last {
		return true
	}
	s.finish(e, err, now)
	return false
}

// notified records the callback's outcome: on success commit becomes the
// last seen; on failure it is reported again at the next resolve.
func (s *schedule) notified(j job, commit string, err error, now time.Time) {
	e, ok := s.entry(j)
	if !ok {
		return
	}
	if err == nil {
		e.last = commit
	}
	s.finish(e, err, now)
}

// finish schedules the next resolve, backing off (up to 8 intervals)
// after consecutive failures.
func (s *schedule) finish(e *entry, err error, now time.Time) {
	e.busy = false
	if err != nil {
		e.fails++
	} else {
		e.fails = 0
	}
	wait := s.every(e.w) << min(e.fails, 3)
	jitter := s.jitter * (2*s.rand() - 1) // in [-jitter, +jitter)
	e.next = now.Add(wait + time.Duration(jitter*float64(wait)))
}

// nextDue is the earliest time an idle entry is due; ok is false when
// there is none.
func (s *schedule) nextDue() (t time.Time, ok bool) {
	for _, e := range s.entries {
		if !e.busy && (!ok || e.next.Before(t)) {
			t, ok = e.next, true
		}
	}
	return t, ok
}
