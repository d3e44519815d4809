// Package controller is Kiln's small controller runtime: a reconcile loop per
// registered controller, fed by list+watch sources over the store, with a
// de-duplicating work queue, retries with exponential backoff and periodic
// resync.
//
//	store events ──► source (ListWatch: list, then watch from the list's RV; re-list on expiry)
//	                   │ Map: event → requests
//	                   ▼
//	               Queue (dedup, backoff) ──► workers ──► Reconciler.Reconcile
//
// Every controller package registers the same way, with a Register(m)
// method, and most reconcile one object of one kind: For turns a typed
// reconcile function into a Reconciler (fetch, ignore not-found), ByKind
// dispatches requests of several kinds.
package controller

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/kilnbuild/kiln/internal/registry"
	"github.com/kilnbuild/kiln/internal/store"
)

// Request names the object to reconcile: its kind, namespace ("" for
// cluster-scoped kinds) and name. Controllers that key on something else
// (the garbage collector keys on UIDs) put it in Name and leave Kind empty.
type Request struct {
	Kind      string
	Namespace string
	Name      string
}

// String is "Kind namespace/name", for logs.
func (r Request) String() string {
	return strings.TrimSpace(r.Kind + " " + strings.TrimPrefix(r.Namespace+"/"+r.Name, "/"))
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
// enqueues the event's own object (a Request of the source's Kind).
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
	// Settled, when set, tells which listed objects have nothing left for
	// the controller to do (a finished build): the initial list and each
	// resync skip them, so their cost follows the work in progress, not
	// the history kept. Their events are still delivered.
	Settled func(*store.Object) bool
}

// Options tune a controller. Zero values select defaults.
type Options struct {
	Workers     int           // default 2
	Resync      time.Duration // default 1h; negative disables
	BaseBackoff time.Duration // default 50ms
	MaxBackoff  time.Duration // default 5m
	// EveryReplica runs the controller on every replica sharing the
	// database (work split by claims, e.g. running builds). By default a
	// controller is a singleton: with a Leader set it runs only on the
	// replica holding the leader lease.
	EveryReplica bool
}

func (o *Options) defaults() {
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.Resync == 0 {
		// Watches resume without gaps, so a resync is only a safety net;
		// work that must happen later asks for it (Result.RequeueAfter).
		o.Resync = time.Hour
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
	queue   *Queue[Request]
	st      store.Store
	log     *slog.Logger
}

// Enqueue asks the controller to reconcile req.
func (c *Controller) Enqueue(req Request) { c.queue.Add(req) }

// EnqueueAfter asks the controller to reconcile req after d (at once when
// d <= 0).
func (c *Controller) EnqueueAfter(req Request, d time.Duration) {
	if d <= 0 {
		c.queue.Add(req)
		return
	}
	c.queue.AddAfter(req, d)
}

// Manager runs controllers.
type Manager struct {
	reg    *registry.Registry
	log    *slog.Logger
	ctrls  []*Controller
	leader Leader
	onLead []func(ctx context.Context)
	lost   func(cause error)
	mu     sync.Mutex
	lctx   context.Context // the leadership's context while leading
}

// Leader elects one replica among those sharing the database
// (lease.Elector).
type Leader interface {
	// Lead blocks until this replica leads or ctx ends; the returned
	// context ends when leadership ends.
	Lead(ctx context.Context) (context.Context, error)
}

// SetLeader makes the singleton controllers (every controller without
// Options.EveryReplica) and the OnLead functions run only while l says
// this replica leads. lost is called if leadership ends before the
// manager's context (the replica must then stop: its singletons may have
// been mid-write; the server exits and its supervisor restarts it).
// Without a leader everything runs (one replica).
func (m *Manager) SetLeader(l Leader, lost func(cause error)) {
	m.leader, m.lost = l, lost
}

// OnLead runs fn (in its own goroutine) while this replica leads, or
// from Start without a Leader: singleton work that is no controller, such
// as the git poller. fn must return when its context ends.
func (m *Manager) OnLead(fn func(ctx context.Context)) { m.onLead = append(m.onLead, fn) }

// Leading reports whether this replica runs the singleton controllers now.
func (m *Manager) Leading() bool {
	if m.leader == nil {
		return true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lctx != nil && m.lctx.Err() == nil
}

// NewManager returns a manager whose controllers read and write through
// reg (their sources follow reg's store).
func NewManager(reg *registry.Registry, log *slog.Logger) *Manager {
	return &Manager{reg: reg, log: log}
}

// Registry is what the controllers read and write through.
func (m *Manager) Registry() *registry.Registry { return m.reg }

// Register adds a controller watching sources (at least one).
func (m *Manager) Register(name string, r Reconciler, opts Options, sources ...Source) *Controller {
	opts.defaults()
	c := &Controller{
		Name: name, rec: r, opts: opts, sources: sources, st: m.reg.Store(),
		queue: NewQueue[Request](opts.BaseBackoff, opts.MaxBackoff),
		log:   m.log.With("controller", name),
	}
	m.ctrls = append(m.ctrls, c)
	return c
}

// Start runs every controller until ctx ends, then waits for workers to
// stop. With a Leader, the singleton controllers start once this replica
// leads.
func (m *Manager) Start(ctx context.Context) {
	var wg sync.WaitGroup
	for _, c := range m.ctrls {
		if c.opts.EveryReplica || m.leader == nil {
			wg.Add(1)
			go func() { defer wg.Done(); c.run(ctx) }()
		}
	}
	if m.leader == nil {
		m.startLeading(ctx, &wg)
	} else {
		wg.Add(1)
		go func() { defer wg.Done(); m.lead(ctx) }()
	}
	wg.Wait()
}

// lead waits for leadership, runs the singletons under it and reports its
// loss.
func (m *Manager) lead(ctx context.Context) {
	lctx, err := m.leader.Lead(ctx)
	if err != nil {
		return // ctx ended
	}
	m.mu.Lock()
	m.lctx = lctx
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range m.ctrls {
		if !c.opts.EveryReplica {
			wg.Add(1)
			go func() { defer wg.Done(); c.run(lctx) }()
		}
	}
	m.startLeading(lctx, &wg)
	<-lctx.Done()
	if ctx.Err() == nil && m.lost != nil {
		m.log.Error("lost the leader lease: stopping the singleton controllers", "cause", context.Cause(lctx))
		m.lost(context.Cause(lctx))
	}
	wg.Wait()
}

func (m *Manager) startLeading(ctx context.Context, wg *sync.WaitGroup) {
	for _, fn := range m.onLead {
		wg.Add(1)
		go func() { defer wg.Done(); fn(ctx) }()
	}
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
		req, ok := c.queue.Get()
		if !ok {
			return
		}
		c.process(ctx, req)
		c.queue.Done(req)
	}
}

func (c *Controller) process(ctx context.Context, req Request) {
	res, err := c.safeReconcile(ctx, req)
	switch {
	case ctx.Err() != nil:
	case err != nil:
		c.log.Warn("reconcile failed; retrying with backoff", "request", req.String(), "attempt", c.queue.Failures(req)+1, "err", err)
		c.queue.AddRateLimited(req)
	default:
		c.queue.Forget(req)
		if res.RequeueAfter > 0 {
			c.queue.AddAfter(req, res.RequeueAfter)
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

// feed follows the source's kind: every listed object, then every event.
func (c *Controller) feed(ctx context.Context, s Source) {
	lw := &ListWatch{Store: c.st, Kind: s.Kind, Resync: c.opts.Resync, Log: c.log,
		OnList: func(_ context.Context, page ListPage) error {
			for _, o := range page.Objects {
				c.enqueueListed(s, o)
			}
			return nil
		},
		OnEvent: func(_ context.Context, ev store.Event, _ <-chan store.Event) error {
			if !s.DeletesOnly || ev.Type == store.Deleted {
				c.enqueue(s, ev)
			}
			return nil
		},
	}
	lw.Run(ctx)
}

func (c *Controller) enqueueListed(s Source, o *store.Object) {
	switch {
	case s.Settled != nil && s.Settled(o):
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
		c.Enqueue(Request{Kind: s.Kind, Namespace: ev.Object.Namespace, Name: ev.Object.Name})
		return
	}
	for _, r := range s.Map(ev) {
		c.Enqueue(r)
	}
}
