package trigger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/git"
	"github.com/kilnbuild/kiln/internal/registry"
	"github.com/kilnbuild/kiln/internal/store"
)

// PollerResync is how often the poller's component feed lists every
// component again, as a safety net under the watch.
const PollerResync = 10 * time.Minute

// feedBatch bounds the events folded into one change for the poller.
const feedBatch = 512

// componentFeed keeps the git poller's watches in line with the
// components: one paginated list (a full set), then a store watch from the
// list's version whose events become deltas, so a change costs the poller
// O(log n) and no list. It lists again when the watch ends (e.g. expired
// history) and every resync.
type componentFeed struct {
	reg     *registry.Registry
	watchOf func(*v1alpha1.Component) (git.Watch, bool)
	resync  time.Duration
	log     *slog.Logger
}

var errFeedResync = errors.New("resync")

// run is the poller's Follow function.
func (f *componentFeed) run(ctx context.Context, out chan<- git.WatchChange) {
	for ctx.Err() == nil {
		rv, err := f.list(ctx, out)
		if err == nil {
			err = f.follow(ctx, rv, out)
		}
		if ctx.Err() != nil {
			return
		}
		if !errors.Is(err, errFeedResync) {
			f.log.Warn("following components for the git poller; listing them again", "err", err)
			pause(ctx, time.Second)
		}
	}
}

// list sends every watched component as a full set and returns the
// version to watch from.
func (f *componentFeed) list(ctx context.Context, out chan<- git.WatchChange) (int64, error) {
	var ws []git.Watch
	rv, err := eachComponent(ctx, f.reg, func(c *v1alpha1.Component) {
		if w, ok := f.watchOf(c); ok {
			ws = append(ws, w)
		}
	})
	if err != nil {
		return 0, fmt.Errorf("listing components: %w", err)
	}
	return rv, sendChange(ctx, out, git.WatchChange{Reset: true, Put: ws})
}

// follow turns component events after rv into changes until the watch
// ends, ctx is done or the resync is due.
func (f *componentFeed) follow(ctx context.Context, rv int64, out chan<- git.WatchChange) error {
	w, err := f.reg.Watch(ctx, componentKind, registry.ListOptions{}, rv)
	if err != nil {
		return fmt.Errorf("watching components: %w", err)
	}
	defer w.Stop()
	resync := time.NewTimer(f.resync)
	defer resync.Stop()
	for {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				return errors.Join(errors.New("component watch ended"), w.Err())
			}
			if err := sendChange(ctx, out, f.batch(ev, w.Events())); err != nil {
				return err
			}
		case <-resync.C:
			return errFeedResync
		case <-ctx.Done():
			return nil
		}
	}
}

// batch folds ev and the events already waiting behind it into one
// change, keeping only the last state of each component.
func (f *componentFeed) batch(ev store.Event, more <-chan store.Event) git.WatchChange {
	last := map[string]*git.Watch{} // nil: not watched (deleted, no git source, ...)
	var order []string
	for n := 0; ; n++ {
		key := ev.Object.Namespace + "/" + ev.Object.Name
		if _, seen := last[key]; !seen {
			order = append(order, key)
		}
		last[key] = f.watchOfEvent(ev)
		if n == feedBatch {
			break
		}
		var ok bool
		select {
		case ev, ok = <-more:
		default:
		}
		if !ok {
			break
		}
	}
	var c git.WatchChange
	for _, key := range order {
		if w := last[key]; w != nil {
			c.Put = append(c.Put, *w)
		} else {
			c.Delete = append(c.Delete, key)
		}
	}
	return c
}

func (f *componentFeed) watchOfEvent(ev store.Event) *git.Watch {
	if ev.Type == store.Deleted {
		return nil
	}
	obj, _, err := f.reg.Decode(ev.Object)
	c, ok := obj.(*v1alpha1.Component)
	if err != nil || !ok {
		f.log.Warn("undecodable component event; not polling it", "component", ev.Object.Key(), "err", err)
		return nil
	}
	if w, ok := f.watchOf(c); ok {
		return &w
	}
	return nil
}

func sendChange(ctx context.Context, out chan<- git.WatchChange, c git.WatchChange) error {
	select {
	case out <- c:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
