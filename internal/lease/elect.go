package lease

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Elector campaigns for a leader lease.
type Elector struct {
	Store  Store
	Name   string // default LeaderLease
	Holder string
	// TTL is the lease's time to live (default DefaultTTL); a dead
	// leader is replaced within TTL + Retry.
	TTL   time.Duration
	Retry time.Duration // how often a follower tries (default TTL/4)
	Log   *slog.Logger
}

// DefaultTTL is the time to live of leader leases and build claims: a
// replica that dies is replaced, and its builds taken over, within about
// this long.
const DefaultTTL = 8 * time.Second

func (e *Elector) defaults() {
	if e.Name == "" {
		e.Name = LeaderLease
	}
	if e.TTL <= 0 {
		e.TTL = DefaultTTL
	}
	if e.Retry <= 0 {
		e.Retry = e.TTL / 4
	}
	if e.Log == nil {
		e.Log = slog.Default()
	}
}

// Lead blocks until the holder leads or ctx ends. The returned context
// ends when leadership is lost (context.Cause tells why) or ctx ends
// (then the lease is released for the next leader).
func (e *Elector) Lead(ctx context.Context) (context.Context, error) {
	e.defaults()
	for {
		h, err := e.try(ctx)
		if err == nil {
			e.Log.Info("leading: this replica runs the singleton controllers", "lease", e.Name, "holder", e.Holder, "token", h.Lease().Token)
			return h.Context(), nil
		}
		if !errors.Is(err, ErrHeld) {
			e.Log.Warn("campaigning for leadership", "lease", e.Name, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(e.Retry):
		}
	}
}

// try acquires the lease once, taking it over from an earlier incarnation
// of this replica at once.
func (e *Elector) try(ctx context.Context) (*Held, error) {
	r := Request{Name: e.Name, Holder: e.Holder, TTL: e.TTL}
	h, err := Hold(ctx, e.Store, r, 0)
	var held *HeldError
	if errors.As(err, &held) && EarlierIncarnation(held.Current.Holder, e.Holder) {
		r.Supersede = held.Current.Token
		return Hold(ctx, e.Store, r, 0)
	}
	return h, err
}
