package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/kilnbuild/kiln/internal/store"
)

// ListWatch follows one kind in the store: it lists every object, a page
// at a time, then watches from the list's resource version, so nothing
// between the two is missed. It lists again when the watch ends (expired
// history, a store error), after a pause, and every Resync, which repairs
// whatever a consumer lost. Every controller source runs on one, and so
// does anything else that follows the store (the git poller's component
// feed).
type ListWatch struct {
	Store store.Store
	Kind  string
	// Resync is how often everything is listed again; 0 or less: only when
	// the watch ends.
	Resync time.Duration
	Log    *slog.Logger
	// OnList receives each page of each full list. A list that fails part
	// way never gets its Last page; the next list starts again at First.
	OnList func(ctx context.Context, page ListPage) error
	// OnEvent receives each watch event; pending holds the events already
	// waiting behind it, which it may take to fold them into one change.
	OnEvent func(ctx context.Context, ev store.Event, pending <-chan store.Event) error
}

// ListPage is one page of a full list.
type ListPage struct {
	Objects     []*store.Object
	First, Last bool
}

// listPageSize bounds the objects read per page of a list.
const listPageSize = 1000

// retryPause is the wait before listing again after a failure.
const retryPause = time.Second

var errResync = errors.New("resync")

// Run lists and watches until ctx ends. An error from OnList or OnEvent
// ends the watch like a store error: everything is listed again.
func (lw *ListWatch) Run(ctx context.Context) {
	for ctx.Err() == nil {
		rv, err := lw.list(ctx)
		if err == nil {
			err = lw.watch(ctx, rv)
		}
		if ctx.Err() != nil {
			return
		}
		if !errors.Is(err, errResync) {
			lw.Log.Warn("following the store failed; listing again", "kind", lw.Kind, "err", err)
			sleep(ctx, retryPause)
		}
	}
}

// list hands every object to OnList and returns the version to watch from.
func (lw *ListWatch) list(ctx context.Context) (int64, error) {
	opts := store.ListOptions{Filter: store.Filter{Kind: lw.Kind}, Limit: listPageSize}
	var rv int64
	for first := true; ; first = false {
		res, err := lw.Store.List(ctx, opts)
		if err != nil {
			return 0, fmt.Errorf("listing %s: %w", lw.Kind, err)
		}
		if first {
			rv = res.ResourceVersion
		}
		page := ListPage{Objects: res.Items, First: first, Last: res.Continue == ""}
		if err := lw.OnList(ctx, page); err != nil {
			return 0, err
		}
		if page.Last {
			return rv, nil
		}
		opts.Continue = res.Continue
	}
}

// watch hands the events after rv to OnEvent until the watch ends, ctx is
// done or the resync is due.
func (lw *ListWatch) watch(ctx context.Context, rv int64) error {
	w, err := lw.Store.Watch(ctx, store.WatchOptions{Filter: store.Filter{Kind: lw.Kind}, SinceRV: rv})
	if err != nil {
		return fmt.Errorf("watching %s: %w", lw.Kind, err)
	}
	defer w.Stop()
	var resync <-chan time.Time
	if lw.Resync > 0 {
		t := time.NewTimer(lw.Resync)
		defer t.Stop()
		resync = t.C
	}
	for {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				return errors.Join(fmt.Errorf("the watch of %s ended", lw.Kind), w.Err())
			}
			if err := lw.OnEvent(ctx, ev, w.Events()); err != nil {
				return err
			}
		case <-resync:
			return errResync
		case <-ctx.Done():
			return nil
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
