package git

import (
	"container/heap"
	"time"
)

// schedule is the Poller's state and decisions, free of I/O and clocks so
// tests can drive it with explicit times. It is not safe for concurrent
// use: the Poller's loop owns it.
//
// Every entry is in exactly one place: the idle heap (waiting for its
// time), out (a resolve or callback for its key is running), or parked on
// a host that is down (see host). So a dispatch or a result costs
// O(log n) however many watches there are, and the next due time is the
// heap's top.
type schedule struct {
	entries  map[string]*entry
	idle     idleHeap
	hosts    map[string]*host // by hostKey, for hosts that have watches
	gen      int              // numbers entries, so results for replaced ones are dropped
	syncs    int              // numbers sync calls, to spot vanished watches without a set
	interval time.Duration    // for watches without one
	jitter   float64          // fraction of the interval, e.g. 0.1
	rand     func() float64   // in [0, 1)
	// hostChanged, when set, hears of hosts going down and coming back,
	// so the Poller logs once per host rather than once per watch.
	hostChanged func(hostEvent)
}

type entry struct {
	w      Watch
	given  string    // the LastSeen supplied last
	last   string    // the newest commit reported (or supplied)
	next   time.Time // when to resolve next
	fails  int       // consecutive failures, for back-off
	gen    int
	job    int   // gen of the resolve or callback out for this key (perhaps a replaced entry's); 0: none
	index  int   // position in the idle heap, or in host.parked when parked; -1: neither
	parked bool  // waiting for its host to come back
	host   *host // nil for local repositories, which have no host to be down
	seen   int   // the sync that last listed it
}

// job is one resolve to run.
type job struct {
	w   Watch
	gen int
}

const (
	// Consecutive failures of one watch double its wait up to 32
	// intervals, but no more than an hour unless the interval is longer.
	maxFailShift    = 5
	maxEntryBackoff = time.Hour
)

// sync makes the schedule follow the current watches: new ones are due
// within the first jitter fraction of their interval, vanished ones are
// dropped, ones whose URL or branch changed start over, and a changed
// LastSeen (someone built that commit) is adopted. It runs every refresh
// over all watches, so it costs O(n) and allocates only for new ones.
func (s *schedule) sync(ws []Watch, now time.Time) {
	s.syncs++
	for _, w := range ws {
		s.put(w, now)
	}
	for k, e := range s.entries {
		if e.seen != s.syncs {
			s.remove(e)
			delete(s.entries, k)
		}
	}
}

// put adds w or updates the watch with its key, as sync does for each
// watch it is given; O(log n).
func (s *schedule) put(w Watch, now time.Time) {
	if s.entries == nil {
		s.entries = map[string]*entry{}
	}
	if s.hosts == nil {
		s.hosts = map[string]*host{}
	}
	e, ok := s.entries[w.Key]
	if !ok || e.w.URL != w.URL || e.w.Branch != w.Branch {
		e = s.replace(e, w, now)
	} else {
		e.w = w
		if w.LastSeen != e.given {
			e.given, e.last = w.LastSeen, w.LastSeen
		}
	}
	e.seen = s.syncs
	if e.host != nil {
		e.host.note(s.every(w), s.syncs)
	}
}

// drop forgets the watch with key, if any; a resolve or callback still out
// for it is ignored when it returns. O(log n).
func (s *schedule) drop(key string) {
	if e, ok := s.entries[key]; ok {
		s.remove(e)
		delete(s.entries, key)
	}
}

// replace makes the entry of w, taking over from old (nil for none).
func (s *schedule) replace(old *entry, w Watch, now time.Time) *entry {
	s.gen++
	e := &entry{w: w, given: w.LastSeen, last: w.LastSeen, gen: s.gen, index: -1,
		host: s.hostFor(w.URL), next: now.Add(s.spread(w))}
	if old != nil {
		// A resolve or callback for old may still be out: e waits for it,
		// so reports for one key never overlap.
		e.job = old.job
		s.remove(old)
	}
	s.entries[w.Key] = e
	if e.job == 0 {
		heap.Push(&s.idle, e)
	}
	return e
}

// remove takes e out of the heap or its host's parked list.
func (s *schedule) remove(e *entry) {
	switch {
	case e.parked:
		e.host.unpark(e)
	case e.index >= 0:
		heap.Remove(&s.idle, e.index)
	}
	h := e.host
	if h == nil {
		return
	}
	h.n--
	if h.probe == e {
		h.probe = nil
		s.nextProbe(h)
	}
	if h.n == 0 {
		delete(s.hosts, h.name)
	}
}

func (s *schedule) every(w Watch) time.Duration {
	if w.Interval > 0 {
		return w.Interval
	}
	return s.interval
}

// spread is a new watch's delay, so a thousand watches added at once do
// not all resolve in the same instant.
func (s *schedule) spread(w Watch) time.Duration {
	return time.Duration(s.rand() * s.jitter * float64(s.every(w)))
}

// jittered is d ± the jitter fraction of it.
func (s *schedule) jittered(d time.Duration) time.Duration {
	return d + time.Duration(s.jitter*(2*s.rand()-1)*float64(d))
}

// due returns up to max jobs whose time has come, earliest first, and
// marks them out. Watches of a host that is down are parked instead,
// except its probe.
func (s *schedule) due(now time.Time, max int) []job {
	var jobs []job
	for len(jobs) < max && len(s.idle) > 0 && !s.idle[0].next.After(now) {
		e := heap.Pop(&s.idle).(*entry)
		if s.held(e, now) {
			continue
		}
		if jobs == nil {
			jobs = make([]job, 0, min(max, len(s.idle)+1))
		}
		e.job = e.gen
		jobs = append(jobs, job{w: e.w, gen: e.gen})
	}
	return jobs
}

// held parks or defers e when its host is down; false means e may run
// (its host is up, or e is the probe and its time has come).
func (s *schedule) held(e *entry, now time.Time) bool {
	h := e.host
	if h == nil || !h.down {
		return false
	}
	if h.probe == nil {
		h.probe = e
	}
	switch {
	case h.probe != e:
		h.park(e)
	case h.retry.After(now):
		e.next = h.retry
		heap.Push(&s.idle, e)
	default:
		return false
	}
	return true
}

// entry returns j's entry; ok is false when the watch went away or was
// replaced meanwhile (then a replacement waiting for j may start).
func (s *schedule) entry(j job) (*entry, bool) {
	e, ok := s.entries[j.w.Key]
	switch {
	case !ok || e.job != j.gen:
		return nil, false // gone, perhaps back since, but not waiting for j
	case e.gen != j.gen:
		e.job = 0
		heap.Push(&s.idle, e)
		return nil, false
	}
	return e, true
}

// resolved records a resolve's outcome and reports whether commit is new
// and must be reported; if so the entry stays out until notified.
func (s *schedule) resolved(j job, commit string, err error, now time.Time) bool {
	e, ok := s.entry(j)
	if !ok {
		return false
	}
	if e.host != nil {
		if hostLevel(err) {
			s.hostFailed(e, err, now)
			return false
		}
		s.hostAnswered(e.host, now)
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

// finish schedules the next resolve, backing off after consecutive
// failures (see maxFailShift).
func (s *schedule) finish(e *entry, err error, now time.Time) {
	e.job = 0
	if err != nil {
		e.fails++
	} else {
		e.fails = 0
	}
	e.next = now.Add(s.jittered(entryBackoff(s.every(e.w), e.fails)))
	heap.Push(&s.idle, e)
}

// entryBackoff is the wait after fails consecutive failures of a watch
// polled every interval.
func entryBackoff(every time.Duration, fails int) time.Duration {
	limit := max(every, maxEntryBackoff)
	wait := every
	for range min(fails, maxFailShift) {
		wait = min(2*wait, limit)
	}
	return wait
}

// move changes when idle e is due.
func (s *schedule) move(e *entry, next time.Time) {
	e.next = next
	heap.Fix(&s.idle, e.index)
}

// nextDue is the earliest time an idle entry is due; ok is false when
// there is none.
func (s *schedule) nextDue() (t time.Time, ok bool) {
	if len(s.idle) == 0 {
		return time.Time{}, false
	}
	return s.idle[0].next, true
}

// idleHeap orders idle entries by due time, then key, so that dispatch
// order is deterministic. Entries keep their index for heap.Fix and
// heap.Remove.
type idleHeap []*entry

func (h idleHeap) Len() int { return len(h) }

func (h idleHeap) Less(i, j int) bool {
	if !h[i].next.Equal(h[j].next) {
		return h[i].next.Before(h[j].next)
	}
	return h[i].w.Key < h[j].w.Key
}

func (h idleHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}

func (h *idleHeap) Push(x any) {
	e := x.(*entry)
	e.index = len(*h)
	*h = append(*h, e)
}

func (h *idleHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil // no stale pointer keeps a removed entry alive
	*h = old[:len(old)-1]
	e.index = -1
	return e
}
