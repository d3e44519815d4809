package controller

import (
	"sync"
	"time"
)

// Queue is a de-duplicating work queue with delayed and rate-limited adds.
// A key is queued at most once; a key added while being processed is queued
// again when Done is called, so no change is missed and no key is handled by
// two workers at once.
type Queue[K comparable] struct {
	mu         sync.Mutex
	cond       *sync.Cond
	items      []K
	dirty      map[K]bool
	processing map[K]bool
	failures   map[K]int
	timers     map[K]*time.Timer
	shutdown   bool
	base, max  time.Duration
}

// NewQueue returns a queue whose retries back off exponentially from base up
// to max.
func NewQueue[K comparable](base, max time.Duration) *Queue[K] {
	q := &Queue[K]{
		dirty: map[K]bool{}, processing: map[K]bool{},
		failures: map[K]int{}, timers: map[K]*time.Timer{},
		base: base, max: max,
	}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// Add queues key unless it is already queued.
func (q *Queue[K]) Add(key K) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.addLocked(key)
}

func (q *Queue[K]) addLocked(key K) {
	if q.shutdown || q.dirty[key] {
		return
	}
	q.dirty[key] = true
	if q.processing[key] {
		return // Done re-queues it.
	}
	q.items = append(q.items, key)
	q.cond.Signal()
}

// AddAfter queues key after d. A later call with a shorter delay wins.
func (q *Queue[K]) AddAfter(key K, d time.Duration) {
	if d <= 0 {
		q.Add(key)
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shutdown {
		return
	}
	if t, ok := q.timers[key]; ok {
		t.Stop()
	}
	q.timers[key] = time.AfterFunc(d, func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		delete(q.timers, key)
		q.addLocked(key)
	})
}

// AddRateLimited queues key after its backoff: base * 2^failures, capped.
func (q *Queue[K]) AddRateLimited(key K) {
	q.mu.Lock()
	n := q.failures[key]
	q.failures[key] = n + 1
	q.mu.Unlock()
	q.AddAfter(key, q.backoff(n))
}

func (q *Queue[K]) backoff(n int) time.Duration {
	d := q.base
	for i := 0; i < n && d < q.max; i++ {
		d *= 2
	}
	if d > q.max {
		d = q.max
	}
	return d
}

// Forget clears key's failure count after a success.
func (q *Queue[K]) Forget(key K) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.failures, key)
}

// Failures returns how many times key has failed in a row.
func (q *Queue[K]) Failures(key K) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.failures[key]
}

// Get blocks until a key is available or the queue shuts down.
func (q *Queue[K]) Get() (K, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == 0 && !q.shutdown {
		q.cond.Wait()
	}
	if len(q.items) == 0 {
		var none K
		return none, false
	}
	key := q.items[0]
	q.items = q.items[1:]
	q.processing[key] = true
	delete(q.dirty, key)
	return key, true
}

// Done marks key processed, re-queueing it if it was added meanwhile.
func (q *Queue[K]) Done(key K) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.processing, key)
	if q.dirty[key] && !q.shutdown {
		q.items = append(q.items, key)
		q.cond.Signal()
	}
}

// Len is the number of queued keys.
func (q *Queue[K]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// ShutDown wakes all waiters; Get then returns false once drained of
// nothing — queued keys are dropped.
func (q *Queue[K]) ShutDown() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.shutdown = true
	q.items = nil
	for _, t := range q.timers {
		t.Stop()
	}
	q.cond.Broadcast()
}
