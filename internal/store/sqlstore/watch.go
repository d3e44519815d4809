package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/kilnbuild/kiln/internal/store"
)

const (
	// watchQueue is the per-watcher buffer of live events between the hub
	// and the watcher goroutine. Past it the watcher falls back to reading
	// the event log (see subscription).
	watchQueue = 4096
	// watchChan is the capacity of Watcher.Events().
	watchChan = 128
	// catchUpPage is how many events a watcher reads from the log at a time.
	catchUpPage = 500
)

// Watch streams the events matching opts after opts.SinceRV: first those
// already in the event log, then live ones, in resource-version order with
// no duplicates and no gaps. An empty Kind watches every kind.
func (s *Store) Watch(ctx context.Context, opts store.WatchOptions) (store.Watcher, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	if err := validateFilter(&opts.Filter); err != nil {
		return nil, err
	}
	if opts.SinceRV < 0 {
		return nil, fmt.Errorf("%w: negative resource version %d", store.ErrInvalid, opts.SinceRV)
	}
	sub := newSubscription(opts.Filter, s.watchQueue)
	hubPos, err := s.hub.subscribe(sub)
	if err != nil {
		return nil, err
	}
	if err := s.checkRetained(ctx, opts.SinceRV); err != nil {
		s.hub.unsubscribe(sub)
		return nil, err
	}
	w := &watcher{s: s, sub: sub, cursor: opts.SinceRV, out: make(chan store.Event, watchChan)}
	w.ctx, w.cancel = context.WithCancel(ctx)
	s.wg.Add(1)
	go w.run(hubPos)
	return w, nil
}

// checkRetained fails with ErrExpired when events after rv were compacted.
func (s *Store) checkRetained(ctx context.Context, rv int64) error {
	var compacted int64
	if err := s.rdb.QueryRowContext(ctx, sqlGetCompacted).Scan(&compacted); err != nil {
		return fmt.Errorf("watching from %d: reading compaction mark: %w", rv, err)
	}
	return expiredIf(rv, compacted)
}

func expiredIf(rv, compacted int64) error {
	if rv < compacted {
		return fmt.Errorf("watching from %d (events up to %d compacted): %w", rv, compacted, store.ErrExpired)
	}
	return nil
}

// watcher implements store.Watcher.
type watcher struct {
	s      *Store
	sub    *subscription
	ctx    context.Context
	cancel context.CancelFunc
	out    chan store.Event
	cursor int64 // version of the last event delivered or skipped
	mu     sync.Mutex
	err    error
}

func (w *watcher) Events() <-chan store.Event { return w.out }

func (w *watcher) Stop() { w.cancel() }

func (w *watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// errStopped ends the loop when the consumer stops the watch.
var errStopped = errors.New("watch stopped")

func (w *watcher) run(hubPos int64) {
	defer w.s.wg.Done()
	defer close(w.out)
	defer w.s.hub.unsubscribe(w.sub)
	defer w.cancel()
	err := w.loop(hubPos)
	if errors.Is(err, errStopped) || (err != nil && w.ctx.Err() != nil && w.s.ctx.Err() == nil) {
		err = nil
	}
	if err != nil && w.s.ctx.Err() != nil && !errors.Is(err, ErrClosed) {
		err = ErrClosed
	}
	w.mu.Lock()
	w.err = err
	w.mu.Unlock()
}

func (w *watcher) loop(hubPos int64) error {
	if err := w.catchUp(hubPos); err != nil {
		return err
	}
	for {
		select {
		case <-w.ctx.Done():
			return errStopped
		case <-w.s.ctx.Done():
			return ErrClosed
		case <-w.sub.signal:
		}
		evs, over, err := w.sub.take()
		if err != nil {
			return err
		}
		if over > 0 {
			if err := w.catchUp(over); err != nil {
				return err
			}
			continue
		}
		for _, ev := range evs {
			if err := w.deliver(ev); err != nil {
				return err
			}
		}
	}
}

// catchUp delivers the logged events in (cursor, to].
func (w *watcher) catchUp(to int64) error {
	for w.cursor < to {
		evs, err := w.s.readRetained(w.ctx, w.cursor, to)
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			return nil
		}
		for _, ev := range evs {
			if err := w.deliver(ev); err != nil {
				return err
			}
		}
	}
	return nil
}

// deliver sends ev if it is new and matches, and advances the cursor.
func (w *watcher) deliver(ev *store.Event) error {
	rv := ev.Object.ResourceVersion
	if rv <= w.cursor {
		return nil
	}
	if matches(&w.sub.filter, ev.Object) {
		select {
		case w.out <- store.Event{Type: ev.Type, Object: cloneObject(ev.Object)}:
		case <-w.ctx.Done():
			return errStopped
		case <-w.s.ctx.Done():
			return ErrClosed
		}
	}
	w.cursor = rv
	return nil
}

// readRetained reads a page of events in (from, to] in the same read
// transaction as the compaction mark, so a compacted range is reported as
// ErrExpired rather than silently skipped.
func (s *Store) readRetained(ctx context.Context, from, to int64) ([]*store.Event, error) {
	tx, err := s.rdb.BeginTx(ctx, s.d.readTx)
	if err != nil {
		return nil, fmt.Errorf("reading events after %d: %w", from, err)
	}
	defer func() { _ = tx.Rollback() }()
	var compacted int64
	if err := tx.QueryRowContext(ctx, sqlGetCompacted).Scan(&compacted); err != nil {
		return nil, fmt.Errorf("reading compaction mark: %w", err)
	}
	if err := expiredIf(from, compacted); err != nil {
		return nil, err
	}
	return readEvents(ctx, tx, from, to, catchUpPage)
}
