package controller

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/store"
)

// feedRecorder records what a ListWatch hands over, as "list:a,b" (one
// full list) and "event:ADDED c" lines; OnEvent fails once for failOn.
type feedRecorder struct {
	mu      sync.Mutex
	lines   []string
	listing []string
	failOn  string
}

func (r *feedRecorder) onList(_ context.Context, p ListPage) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.First {
		r.listing = nil
	}
	for _, o := range p.Objects {
		r.listing = append(r.listing, o.Name)
	}
	if p.Last {
		r.lines = append(r.lines, "list:"+strings.Join(r.listing, ","))
	}
	return nil
}

func (r *feedRecorder) onEvent(_ context.Context, ev store.Event, _ <-chan store.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, "event:"+string(ev.Type)+" "+ev.Object.Name)
	if ev.Object.Name == r.failOn {
		r.failOn = ""
		return errors.New("consumer failed")
	}
	return nil
}

func (r *feedRecorder) has(line string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.lines, line)
}

// TestListWatchListsThenWatchesAndListsAgainAfterAFailure: objects there
// before arrive in one full list, later ones as events; when the consumer
// fails, everything is listed again (the failed object included) and the
// watch goes on.
func TestListWatchListsThenWatchesAndListsAgainAfterAFailure(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	put(t, st, "a", "before")
	rec := &feedRecorder{failOn: "second"}
	lw := &ListWatch{Store: st, Kind: "Widget", Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnList: rec.onList, OnEvent: rec.onEvent}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { lw.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	waitUntil(t, "the first list", func() bool { return rec.has("list:before") })
	put(t, st, "a", "first")
	waitUntil(t, "an event after the list", func() bool { return rec.has("event:ADDED first") })
	put(t, st, "a", "second")
	waitUntil(t, "a list again after the consumer failed", func() bool { return rec.has("list:before,first,second") })
	put(t, st, "a", "third")
	waitUntil(t, "events after the new list", func() bool { return rec.has("event:ADDED third") })
}

// TestListWatchResyncListsAgain: with a resync period, full lists repeat
// although nothing failed.
func TestListWatchResyncListsAgain(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	put(t, st, "a", "x")
	lists := 0
	var mu sync.Mutex
	lw := &ListWatch{Store: st, Kind: "Widget", Resync: 20 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnList: func(_ context.Context, p ListPage) error {
			mu.Lock()
			defer mu.Unlock()
			if p.Last {
				lists++
			}
			return nil
		},
		OnEvent: func(context.Context, store.Event, <-chan store.Event) error { return nil }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { lw.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	waitUntil(t, "three full lists", func() bool { mu.Lock(); defer mu.Unlock(); return lists >= 3 })
}
