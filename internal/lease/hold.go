package lease

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Held is a lease kept alive in the background until its context ends (it
// is then released) or it is lost.
type Held struct {
	st    Store
	ttl   time.Duration
	every time.Duration
	// ctx ends when the lease is lost or released.
	ctx    context.Context
	cancel context.CancelCauseFunc
	done   chan struct{}

	mu       sync.Mutex
	cur      Lease
	deadline time.Time // monotonic: when this holder stops trusting the lease
}

// Hold acquires r and renews it every `every` (0: TTL/4) until ctx ends or
// the lease is lost: Context of the result ends then, with the reason as
// its cause (context.Cause). A holder that cannot renew before its own
// deadline (the send time of the last successful request + TTL, never
// later than the store's expiry) counts the lease as lost.
func Hold(ctx context.Context, st Store, r Request, every time.Duration) (*Held, error) {
	if every <= 0 {
		every = r.TTL / 4
	}
	sent := time.Now()
	l, err := st.Acquire(ctx, r)
	if err != nil {
		return nil, err
	}
	return hold(ctx, st, l, r.TTL, every, sent), nil
}

// Keep renews a lease acquired elsewhere (e.g. handed to a remote worker
// and renewed on its behalf) like Hold does; acquired is when the request
// that last extended it was sent.
func Keep(ctx context.Context, st Store, l Lease, ttl, every time.Duration, acquired time.Time) *Held {
	if every <= 0 {
		every = ttl / 4
	}
	return hold(ctx, st, l, ttl, every, acquired)
}

func hold(ctx context.Context, st Store, l Lease, ttl, every time.Duration, sent time.Time) *Held {
	h := &Held{st: st, ttl: ttl, every: every, cur: l, deadline: sent.Add(ttl), done: make(chan struct{})}
	h.ctx, h.cancel = context.WithCancelCause(context.WithoutCancel(ctx))
	go h.run(ctx)
	return h
}

// Context ends when the lease is lost or released; context.Cause says why.
func (h *Held) Context() context.Context { return h.ctx }

// Lease is the lease as last renewed.
func (h *Held) Lease() Lease {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cur
}

// Done is closed once the renew loop ended (after the release).
func (h *Held) Done() <-chan struct{} { return h.done }

// errReleased is the cause of a lease released because its context ended.
var errReleased = errors.New("lease released")

func (h *Held) run(parent context.Context) {
	defer close(h.done)
	t := time.NewTicker(h.every)
	defer t.Stop()
	for {
		select {
		case <-parent.Done():
			h.release()
			return
		case <-h.ctx.Done():
			return
		case <-t.C:
			if err := h.renew(); err != nil {
				h.cancel(err)
				return
			}
		}
	}
}

// renew extends the lease; an error means it is lost.
func (h *Held) renew() error {
	h.mu.Lock()
	cur, deadline := h.cur, h.deadline
	h.mu.Unlock()
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	sent := time.Now()
	l, err := h.st.Renew(ctx, cur, h.ttl)
	switch {
	case err == nil:
		h.mu.Lock()
		h.cur, h.deadline = l, sent.Add(h.ttl)
		h.mu.Unlock()
		return nil
	case errors.Is(err, ErrLost):
		return fmt.Errorf("lease %s: %w", cur.Name, err)
	case !time.Now().Before(deadline):
		return fmt.Errorf("lease %s: %w: not renewed before its expiry (%v)", cur.Name, ErrLost, err)
	}
	return nil // transient: retried at the next tick, before the deadline
}

func (h *Held) release() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = h.st.Release(ctx, h.Lease())
	h.cancel(errReleased)
}

// Release lets the lease go now and waits for the renew loop to end.
func (h *Held) Release() {
	h.mu.Lock()
	cur := h.cur
	h.mu.Unlock()
	if h.ctx.Err() == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = h.st.Release(ctx, cur)
		cancel()
	}
	h.cancel(errReleased)
	<-h.done
}
