package lease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// HolderRenewer is a Store that renews every lease of one holder in one
// request (sqlstore's does): a replica running thousands of builds renews
// their claims with one statement per period instead of one each.
type HolderRenewer interface {
	Store
	// RenewHolder extends by ttl every lease holder holds (live, or
	// expired while nobody took it; not released ones) and returns them.
	RenewHolder(ctx context.Context, holder string, ttl time.Duration) ([]Lease, error)
}

// Purger forgets leases that ended long ago: build claims leave one row
// per build otherwise.
type Purger interface {
	// Purge deletes the leases named with prefix that expired or were
	// released more than age ago, and returns how many.
	Purge(ctx context.Context, prefix string, age time.Duration) (int64, error)
}

// Session keeps many leases of one holder alive with one renewal per
// period (TTL/4): Hold acquires a lease into the session; a lease missing
// from a renewal (someone else took it) or a renewal that does not
// succeed before the session's own deadline ends the leases concerned.
type Session struct {
	Store  HolderRenewer
	Holder string
	TTL    time.Duration // default DefaultTTL
	Log    *slog.Logger

	mu   sync.Mutex
	held map[string]*sessionLease
}

type sessionLease struct {
	lease  Lease
	ctx    context.Context
	cancel context.CancelCauseFunc
	// deadline of this lease until the first session renewal covers it.
	deadline time.Time
}

// Run renews the session's leases until ctx ends (then it releases them).
func (s *Session) Run(ctx context.Context) {
	s.init()
	t := time.NewTicker(s.TTL / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.releaseAll()
			return
		case <-t.C:
			s.renew()
		}
	}
}

func (s *Session) init() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.TTL <= 0 {
		s.TTL = DefaultTTL
	}
	if s.held == nil {
		s.held = map[string]*sessionLease{}
	}
	if s.Log == nil {
		s.Log = slog.Default()
	}
}

// Hold acquires r (its Holder and TTL are the session's) and keeps it in
// the session until Release. The returned context ends when the lease is
// lost; its cause says why.
func (s *Session) Hold(ctx context.Context, r Request) (context.Context, Lease, error) {
	s.init()
	r.Holder, r.TTL = s.Holder, s.TTL
	sent := time.Now()
	l, err := s.Store.Acquire(ctx, r)
	if err != nil {
		return nil, Lease{}, err
	}
	lctx, cancel := context.WithCancelCause(context.Background())
	s.mu.Lock()
	s.held[r.Name] = &sessionLease{lease: l, ctx: lctx, cancel: cancel, deadline: sent.Add(s.TTL)}
	s.mu.Unlock()
	return lctx, l, nil
}

// Release lets the lease go and drops it from the session.
func (s *Session) Release(ctx context.Context, name string) error {
	s.mu.Lock()
	sl := s.held[name]
	delete(s.held, name)
	s.mu.Unlock()
	if sl == nil {
		return nil
	}
	sl.cancel(errReleased)
	return s.Store.Release(ctx, sl.lease)
}

// Len is how many leases the session holds.
func (s *Session) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.held)
}

// renew extends every lease of the holder; leases not renewed are lost,
// and so are all of them once the deadline passed without a renewal. Only
// leases held when the renewal was sent are judged by it (a lease acquired
// meanwhile may have committed after the renewal read the table).
func (s *Session) renew() {
	s.mu.Lock()
	if len(s.held) == 0 {
		s.mu.Unlock()
		return
	}
	deadline := s.earliestDeadline()
	before := make(map[string]*sessionLease, len(s.held))
	for name, sl := range s.held {
		before[name] = sl
	}
	s.mu.Unlock()
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	sent := time.Now()
	got, err := s.Store.RenewHolder(ctx, s.Holder, s.TTL)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.expire(time.Now(), err)
		return
	}
	renewed := make(map[string]bool, len(got))
	for _, l := range got {
		renewed[l.Name] = true
	}
	for name, sl := range before {
		switch {
		case s.held[name] != sl: // released meanwhile
		case renewed[name]:
			sl.deadline = sent.Add(s.TTL)
		default:
			s.lose(name, sl, fmt.Errorf("lease %s: %w", name, ErrLost))
		}
	}
}

// earliestDeadline is the soonest any held lease stops being trusted.
func (s *Session) earliestDeadline() time.Time {
	var d time.Time
	for _, sl := range s.held {
		if d.IsZero() || sl.deadline.Before(d) {
			d = sl.deadline
		}
	}
	return d
}

// expire ends the leases whose deadline passed (the renewal failed).
func (s *Session) expire(now time.Time, err error) {
	for name, sl := range s.held {
		if !now.Before(sl.deadline) {
			s.lose(name, sl, fmt.Errorf("lease %s: %w: not renewed before its expiry (%v)", name, ErrLost, err))
		}
	}
}

func (s *Session) lose(name string, sl *sessionLease, err error) {
	delete(s.held, name)
	sl.cancel(err)
	s.Log.Warn("lost a lease", "lease", name, "holder", s.Holder, "err", err)
}

func (s *Session) releaseAll() {
	s.mu.Lock()
	held := s.held
	s.held = map[string]*sessionLease{}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, sl := range held {
		sl.cancel(errReleased)
		if err := s.Store.Release(ctx, sl.lease); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			s.Log.Warn("releasing a lease", "lease", sl.lease.Name, "err", err)
		}
	}
}
