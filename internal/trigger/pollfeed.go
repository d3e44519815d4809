package trigger

import (
	"context"
	"log/slog"
	"time"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/controller"
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
// O(log n) and no list. The controller runtime's ListWatch lists again
// when the watch ends (e.g. expired history) and every resync.
type componentFeed struct {
	reg     *registry.Registry
	watchOf func(*v1alpha1.Component) (git.Watch, bool)
	resync  time.Duration
	log     *slog.Logger
}

// run is the poller's Follow function.
func (f *componentFeed) run(ctx context.Context, out chan<- git.WatchChange) {
	var listed []git.Watch
	lw := &controller.ListWatch{Store: f.reg.Store(), Kind: "Component", Resync: f.resync,
		Log: f.log.With("for", "git poller"),
		OnList: func(ctx context.Context, page controller.ListPage) error {
			if page.First {
				listed = nil
			}
			for _, o := range page.Objects {
				if w := f.watchOfObject(o); w != nil {
					listed = append(listed, *w)
				}
			}
			if !page.Last {
				return nil
			}
			return sendChange(ctx, out, git.WatchChange{Reset: true, Put: listed})
		},
		OnEvent: func(ctx context.Context, ev store.Event, pending <-chan store.Event) error {
			return sendChange(ctx, out, f.batch(ev, pending))
		},
	}
	lw.Run(ctx)
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
	return f.watchOfObject(ev.Object)
}

// watchOfObject is the watch of a stored component; nil when it is not
// polled (or cannot be read).
func (f *componentFeed) watchOfObject(o *store.Object) *git.Watch {
	obj, _, err := f.reg.Decode(o)
	c, ok := obj.(*v1alpha1.Component)
	if err != nil || !ok {
		f.log.Warn("undecodable component; not polling it", "component", o.Key(), "err", err)
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
