package sqlstore

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kilnbuild/kiln/internal/store"
)

// tailPage is how many events the hub reads from the log per query.
const tailPage = 1000

// hub tails the event log and fans events out to the subscriptions of one
// Store. It is the only reader of the live log, so N watchers cost one
// query per change, not N. Events reach it three ways: local commits hand
// their events over in memory (publish), PostgreSQL NOTIFY from other
// processes and a poll ticker mark the log dirty (poke). It delivers strictly
// in resource-version order: in-memory events are used only while they
// continue the sequence exactly (rv == last+1); any gap is read from the log.
type hub struct {
	s      *Store
	poll   time.Duration
	wake   chan struct{} // capacity 1
	dirty  atomic.Bool   // the log may hold events the hub has not seen
	mu     sync.Mutex
	last   int64 // resource version of the last dispatched event
	queue  []*store.Event
	subs   map[string]map[*subscription]struct{} // by kind; "" = all kinds
	closed bool

	// expected is the last version of a commit of the local writer, which
	// will publish its events or abandon them (guarded by mu).
	expected int64
}

func newHub(s *Store, start int64, poll time.Duration) *hub {
	return &hub{s: s, poll: poll, wake: make(chan struct{}, 1), last: start,
		subs: make(map[string]map[*subscription]struct{})}
}

// publish hands over the events of a local commit, in order.
func (h *hub) publish(evs []*store.Event) {
	if len(evs) == 0 {
		return
	}
	h.mu.Lock()
	h.queue = append(h.queue, evs...)
	h.mu.Unlock()
	h.signal()
}

// expect announces a local commit up to rv, so that its NOTIFY, which may
// arrive before publish, does not send the hub to the log. Events of other
// processes it hides are found as gaps when the local ones are published.
func (h *hub) expect(rv int64) {
	h.mu.Lock()
	h.expected = rv
	h.mu.Unlock()
}

// abandon withdraws expect after a failed commit and has the log checked.
func (h *hub) abandon() {
	h.mu.Lock()
	h.expected = 0
	h.mu.Unlock()
	h.poke(0)
}

// poke tells the hub that the log may have grown (NOTIFY, reconnect). rv is
// the announced version, or 0 when unknown.
func (h *hub) poke(rv int64) {
	if rv > 0 {
		h.mu.Lock()
		seen := rv <= max(h.last, h.expected)
		h.mu.Unlock()
		if seen {
			return
		}
	}
	h.dirty.Store(true)
	h.signal()
}

func (h *hub) signal() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// run is the hub loop; on exit every subscription ends with ErrClosed.
func (h *hub) run(ctx context.Context) {
	defer h.close()
	tick := time.NewTicker(h.poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.wake:
		case <-tick.C:
			h.dirty.Store(true)
		}
		if err := h.advance(ctx); err != nil && ctx.Err() == nil {
			slog.Warn("store watch hub: reading the event log failed; retrying", "err", err)
			h.dirty.Store(true)
		}
	}
}

// advance dispatches queued local events, then reads the log if needed.
func (h *hub) advance(ctx context.Context) error {
	h.mu.Lock()
	queued := h.queue
	h.queue = nil
	gap := false
	for _, ev := range queued {
		rv := ev.Object.ResourceVersion
		if rv <= h.last {
			continue
		}
		if rv != h.last+1 {
			gap = true
			break
		}
		h.dispatchLocked(ev)
	}
	h.mu.Unlock()
	if gap || h.dirty.Swap(false) {
		return h.tail(ctx)
	}
	return nil
}

// tail reads and dispatches every logged event after the last one.
func (h *hub) tail(ctx context.Context) error {
	for {
		h.mu.Lock()
		from := h.last
		h.mu.Unlock()
		evs, err := readEvents(ctx, h.s.rdb, from, math.MaxInt64, tailPage)
		if err != nil {
			return err
		}
		h.mu.Lock()
		for _, ev := range evs {
			if ev.Object.ResourceVersion > h.last {
				h.dispatchLocked(ev)
			}
		}
		h.mu.Unlock()
		if len(evs) < tailPage {
			return nil
		}
	}
}

func (h *hub) dispatchLocked(ev *store.Event) {
	h.last = ev.Object.ResourceVersion
	for _, kind := range []string{ev.Object.Kind, ""} {
		for sub := range h.subs[kind] {
			if matches(&sub.filter, ev.Object) {
				sub.push(ev)
			}
		}
	}
}

// subscribe registers sub; it returns the resource version after which the
// hub will push events to it (earlier ones must be read from the log).
func (h *hub) subscribe(sub *subscription) (int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return 0, ErrClosed
	}
	m := h.subs[sub.filter.Kind]
	if m == nil {
		m = make(map[*subscription]struct{})
		h.subs[sub.filter.Kind] = m
	}
	m[sub] = struct{}{}
	return h.last, nil
}

func (h *hub) unsubscribe(sub *subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs[sub.filter.Kind], sub)
	if len(h.subs[sub.filter.Kind]) == 0 {
		delete(h.subs, sub.filter.Kind)
	}
}

func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, m := range h.subs {
		for sub := range m {
			sub.terminate(ErrClosed)
		}
	}
	h.subs = map[string]map[*subscription]struct{}{}
}

// subscription is the hub's side of one watcher: a bounded queue of matching
// events. The hub never blocks on it: when the queue is full the queue is
// dropped and the subscription remembers the last dropped version, and the
// watcher re-reads that range from the event log at its own pace.
type subscription struct {
	filter   store.Filter
	max      int
	signal   chan struct{} // capacity 1
	mu       sync.Mutex
	queue    []*store.Event
	overflow int64 // > 0: events up to this version were dropped
	err      error // terminal error set by the hub
}

func newSubscription(f store.Filter, max int) *subscription {
	return &subscription{filter: f, max: max, signal: make(chan struct{}, 1)}
}

func (s *subscription) push(ev *store.Event) {
	s.mu.Lock()
	if s.overflow > 0 || len(s.queue) >= s.max {
		s.overflow = ev.Object.ResourceVersion
		s.queue = nil
	} else {
		s.queue = append(s.queue, ev)
	}
	s.mu.Unlock()
	s.notify()
}

func (s *subscription) notify() {
	select {
	case s.signal <- struct{}{}:
	default:
	}
}

func (s *subscription) terminate(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
	s.notify()
}

// take returns the queued events, or the overflow mark, or the terminal error.
func (s *subscription) take() ([]*store.Event, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	evs, over := s.queue, s.overflow
	s.queue, s.overflow = nil, 0
	return evs, over, s.err
}
