package builder

import (
	"time"

	"github.com/kilnbuild/kiln/internal/controller"
)

// fairQueue decides which queued build may start next: the pure core of
// build admission (no clock, no store, no locking; the caller serialises).
//
// Limits: at most global builds run at once, and at most limit(ns) of one
// namespace (0: only the global limit bounds it).
//
// Fair share: the next free slot goes to the namespace with the fewest
// running builds among those with a waiting build and room under their
// limit; ties go to the namespace served least recently (one never served
// first), then to the one whose next build arrived first. Within a
// namespace, higher priority starts first, then earlier queue time, then
// earlier arrival.
//
// A build is running either because Next admitted it here (Done frees it)
// or because it was seen Running in the store (Remove or Push frees it):
// builds a previous process left Running count against the limits until the
// scheduler re-queues or finishes them.
type fairQueue struct {
	global       int
	perNamespace int
	limits       map[string]int
	spaces       map[string]*tenant
	// running maps a running build to whether Next admitted it here.
	running map[controller.Request]bool
	clock   uint64 // orders arrivals and grants
}

// tenant is one namespace's share.
type tenant struct {
	waiting []waitingBuild // in start order
	running int
	served  uint64 // clock of the last grant; 0: never
}

// waitingBuild is a queued build that may start.
type waitingBuild struct {
	Key      controller.Request
	Priority float64
	Queued   time.Time
	seq      uint64 // arrival
}

// before orders builds of one namespace: priority, queue time, arrival.
func (w waitingBuild) before(o waitingBuild) bool {
	if w.Priority != o.Priority {
		return w.Priority > o.Priority
	}
	if !w.Queued.Equal(o.Queued) {
		return w.Queued.Before(o.Queued)
	}
	return w.seq < o.seq
}

// newFairQueue admits at most global builds at once (at least 1) and at
// most perNamespace of one namespace (0: no namespace limit).
func newFairQueue(global, perNamespace int) *fairQueue {
	return &fairQueue{global: max(global, 1), perNamespace: max(perNamespace, 0),
		limits: map[string]int{}, spaces: map[string]*tenant{}, running: map[controller.Request]bool{}}
}

// SetGlobal changes how many builds may run at once (remote workers come
// and go); 0 admits none. Builds running beyond a lowered limit finish.
func (q *fairQueue) SetGlobal(n int) { q.global = max(n, 0) }

// SetLimit sets namespace ns's own limit; n <= 0 restores the default.
func (q *fairQueue) SetLimit(ns string, n int) {
	if n <= 0 {
		delete(q.limits, ns)
		return
	}
	q.limits[ns] = n
}

// limit is how many builds of ns may run at once; 0: no namespace limit.
func (q *fairQueue) limit(ns string) int {
	if n, ok := q.limits[ns]; ok {
		return n
	}
	return q.perNamespace
}

func (q *fairQueue) tenant(ns string) *tenant {
	t := q.spaces[ns]
	if t == nil {
		t = &tenant{}
		q.spaces[ns] = t
	}
	return t
}

// Push records a queued build, or updates its priority and queue time. A
// build admitted here is left alone; one seen running elsewhere waits again
// (it was re-queued).
func (q *fairQueue) Push(b waitingBuild) {
	local, running := q.running[b.Key]
	if running && local {
		return
	}
	if running {
		q.unrun(b.Key)
	}
	t := q.tenant(b.Key.Namespace)
	if old, ok := t.take(b.Key); ok {
		b.seq = old.seq
	} else {
		q.clock++
		b.seq = q.clock
	}
	i := 0
	for i < len(t.waiting) && t.waiting[i].before(b) {
		i++
	}
	t.waiting = append(t.waiting, waitingBuild{})
	copy(t.waiting[i+1:], t.waiting[i:])
	t.waiting[i] = b
}

// Running records a build seen Running in the store: it counts against the
// limits until Remove, Push or Done.
func (q *fairQueue) Running(key controller.Request) {
	if _, ok := q.running[key]; ok {
		return
	}
	q.tenant(key.Namespace).take(key)
	q.running[key] = false
	q.tenant(key.Namespace).running++
}

// Remove forgets a build that may no longer start (finished, cancelled,
// deleted). A build admitted here keeps its slot until Done.
func (q *fairQueue) Remove(key controller.Request) {
	if t := q.spaces[key.Namespace]; t != nil {
		t.take(key)
	}
	if local, ok := q.running[key]; ok && !local {
		q.unrun(key)
	}
}

// Done frees the slot of a build whose attempt ended.
func (q *fairQueue) Done(key controller.Request) {
	if _, ok := q.running[key]; ok {
		q.unrun(key)
	}
}

func (q *fairQueue) unrun(key controller.Request) {
	delete(q.running, key)
	q.spaces[key.Namespace].running--
}

// Next admits the next build, or reports false when none may start now.
func (q *fairQueue) Next() (controller.Request, bool) {
	if len(q.running) >= q.global {
		return controller.Request{}, false
	}
	var best *tenant
	for ns, t := range q.spaces {
		if len(t.waiting) == 0 || (q.limit(ns) > 0 && t.running >= q.limit(ns)) {
			continue
		}
		if best == nil || t.fairer(best) {
			best = t
		}
	}
	if best == nil {
		return controller.Request{}, false
	}
	b := best.waiting[0]
	best.waiting = best.waiting[1:]
	best.running++
	q.clock++
	best.served = q.clock
	q.running[b.Key] = true
	return b.Key, true
}

// fairer reports whether t should get the next slot before o. Arrival
// numbers are unique, so the order is total and Next deterministic.
func (t *tenant) fairer(o *tenant) bool {
	if t.running != o.running {
		return t.running < o.running
	}
	if t.served != o.served {
		return t.served < o.served
	}
	return t.waiting[0].seq < o.waiting[0].seq
}

// take removes key from the waiting builds.
func (t *tenant) take(key controller.Request) (waitingBuild, bool) {
	for i, w := range t.waiting {
		if w.Key == key {
			t.waiting = append(t.waiting[:i], t.waiting[i+1:]...)
			return w, true
		}
	}
	return waitingBuild{}, false
}

// Waiting counts the builds waiting for a slot.
func (q *fairQueue) Waiting() int {
	n := 0
	for _, t := range q.spaces {
		n += len(t.waiting)
	}
	return n
}

// Admitted reports whether Next admitted key and its attempt has not ended.
func (q *fairQueue) Admitted(key controller.Request) bool {
	return q.running[key]
}
