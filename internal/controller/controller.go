// Package controller is Kiln's small controller runtime: a reconcile loop per
// registered controller, fed by list+watch sources over the store, with a
// de-duplicating work queue, retries with exponential backoff and periodic
// resync.
//
//	store events ──► source (list, then watch from the list's RV; re-list on expiry)
//	                   │ Map: event → requests
//	                   ▼
//	               Queue (dedup, backoff) ──► workers ──► Reconciler.Reconcile
package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/kilnbuild/kiln/internal/store"
)

// Request names the object to reconcile. Controllers that key on something
// else (the garbage collector keys on UIDs) put it in Name.
type Request struct {
	Namespace string
	Name      string
}

func (r Request) key() string { return r.Namespace + "/" + r.Name }

func parseKey(k string) Request {
	ns, name, _ := strings.Cut(k, "/")
	return Request{Namespace: ns, Name: name}
}

// Result tells the runtime when to look at the object again.
type Result struct {
	// RequeueAfter > 0 reconciles the object again after the delay.
	RequeueAfter time.Duration
}

// Reconciler brings one object's world in line with its spec. It must be
// idempotent: it may run any number of times for the same state.
type Reconciler interface {
	Reconcile(ctx context.Context, req Request) (Result, error)
}

// ReconcileFunc adapts a function to Reconciler.
type ReconcileFunc func(ctx context.Context, req Request) (Result, error)

// Reconcile calls f.
func (f ReconcileFunc) Reconcile(ctx context.Context, req Request) (Result, error) {
	return f(ctx, req)
}

// Source is a kind to watch and how its events map to requests. A nil Map
// enqueues the event's own object.
type Source struct {
	Kind string
	// Deletes only: when set, only DELETED events are mapped (list results
	// and other events are ignored).
	DeletesOnly bool
	Map         func(store.Event) []Request
	// OnList, when set, maps objects found by the initial list and by each
	// resync instead of Map (e.g. to look for work a crash left behind
	// without reacting to every live change).
	OnList func(*store.Object) []Request
}

// Options tune a controller. Zero values select defaults.
type Options struct {
	Workers     int           // default 2
	Resync      time.Duration // default 10m; negative disables
	BaseBackoff time.Duration // default 50ms
	MaxBackoff  time.Duration // default 5m
}

func (o *Options) defaults() {
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.Resync == 0 {
		o.Resync = 10 * time.Minute
	}
	if o.BaseBackoff <= 0 {
		o.BaseBackoff = 50 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Minute
	}
}

// Controller is one registered reconcile loop.
type Controller struct {
	Name    string
	rec     Reconciler
	opts    Options
	sources []Source
	queue   *Queue
	st      store.Store
	log     *slog.Logger
}

// Enqueue asks the controller to reconcile req.
func (c *Controller) Enqueue(req Request) { c.queue.Add(req.key()) }

// Manager runs controllers.
type Manager struct {
	st    store.Store
	log   *slog.Logger
	ctrls []*Controller
}

// NewManager returns a manager reading from st.
func NewManager(st store.Store, log *slog.Logger) *Manager {
	return &Manager{st: st, log: log}
}

// Register adds a controller watching sources (at least one).
func (m *Manager) Register(name string, r Reconciler, opts Options, sources ...Source) *Controller {
	opts.defaults()
	c := &Controller{
		Name: name, rec: r, opts: opts, sources: sources, st: m.st,
		queue: NewQueue(opts.BaseBackoff, opts.MaxBackoff),
		log:   m.log.With("controller", name),
	}
	m.ctrls = append(m.ctrls, c)
	return c
}

// Start runs every controller until ctx ends, then waits for workers to stop.
func (m *Manager) Start(ctx context.Context) {
	var wg sync.WaitGroup
	for _, c := range m.ctrls {
		wg.Add(1)
		go func() { defer wg.Done(); c.run(ctx) }()
	}
	wg.Wait()
}

func (c *Controller) run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, s := range c.sources {
		wg.Add(1)
		go func() { defer wg.Done(); c.feed(ctx, s) }()
	}
	for i := 0; i < c.opts.Workers; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); c.work(ctx) }()
	}
	<-ctx.Done()
	c.queue.ShutDown()
	wg.Wait()
}

func (c *Controller) work(ctx context.Context) {
	for {
		key, ok := c.queue.Get()
		if !ok {
			return
		}
		c.process(ctx, key)
		c.queue.Done(key)
	}
}

func (c *Controller) process(ctx context.Context, key string) {
	res, err := c.safeReconcile(ctx, parseKey(key))
	switch {
	case ctx.Err() != nil:
	case err != nil:
		c.log.Warn("reconcile failed; retrying with backoff", "key", key, "attempt", c.queue.Failures(key)+1, "err", err)
		c.queue.AddRateLimited(key)
	default:
		c.queue.Forget(key)
		if res.RequeueAfter > 0 {
			c.queue.AddAfter(key, res.RequeueAfter)
		}
	}
}

func (c *Controller) safeReconcile(ctx context.Context, req Request) (res Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("reconciler panicked: %v", p)
		}
	}()
	return c.rec.Reconcile(ctx, req)
}

// feed lists the source's kind, then watches from the list's version,
// re-listing when the watch expires or fails, and at every resync.
func (c *Controller) feed(ctx context.Context, s Source) {
	for ctx.Err() == nil {
		rv, err := c.listAll(ctx, s)
		if err == nil {
			err = c.watch(ctx, s, rv)
		}
		if ctx.Err() != nil {
			return
		}
		if err != nil && !errors.Is(err, errResync) {
			c.log.Warn("source failed; re-listing", "kind", s.Kind, "err", err)
			sleep(ctx, time.Second)
		}
	}
}

var errResync = errors.New("resync")

func (c *Controller) listAll(ctx context.Context, s Source) (int64, error) {
	opts := store.ListOptions{Filter: store.Filter{Kind: s.Kind}, Limit: 1000}
	var rv int64
	for {
		res, err := c.st.List(ctx, opts)
		if err != nil {
			return 0, fmt.Errorf("listing %s: %w", s.Kind, err)
		}
		if rv == 0 {
			rv = res.ResourceVersion
		}
		for _, o := range res.Items {
			c.enqueueListed(s, o)
		}
		if res.Continue == "" {
			return rv, nil
		}
		opts.Continue = res.Continue
	}
}

func (c *Controller) watch(ctx context.Context, s Source, rv int64) error {
	w, err := c.st.Watch(ctx, store.WatchOptions{Filter: store.Filter{Kind: s.Kind}, SinceRV: rv})
	if err != nil {
		return fmt.Errorf("watching %s: %w", s.Kind, err)
	}
	defer w.Stop()
	var resync <-chan time.Time
	if c.opts.Resync > 0 {
		t := time.NewTimer(c.opts.Resync)
		defer t.Stop()
		resync = t.C
	}
	for {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				return w.Err()
			}
			if !s.DeletesOnly || ev.Type == store.Deleted {
				c.enqueue(s, ev)
			}
		case <-resync:
			return errResync
		case <-ctx.Done():
			return nil
		}
	}
}

func (c *Controller) enqueueListed(s Source, o *store.Object) {
	switch {
	case s.OnList != nil:
		for _, r := range s.OnList(o) {
			c.Enqueue(r)
		}
	case !s.DeletesOnly:
		c.enqueue(s, store.Event{Type: store.Added, Object: o})
	}
}

func (c *Controller) enqueue(s Source, ev store.Event) {
	if s.Map == nil {
		c.Enqueue(Request{Namespace: ev.Object.Namespace, Name: ev.Object.Name})
		return
	}
	for _, r := range s.Map(ev) {
		c.Enqueue(r)
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
