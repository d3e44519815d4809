package git

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Watch is a branch the Poller follows.
type Watch struct {
	// Key identifies the watch to the callbacks, e.g. "namespace/component".
	Key    string
	URL    string
	Branch string
	// Interval between resolves; 0 means Poller.Interval.
	Interval time.Duration
	// LastSeen is the commit already known (e.g. the last one built), so
	// a restart does not report it again. Empty: the first head resolved
	// is reported. When a later Watches call supplies a different value,
	// the Poller adopts it.
	LastSeen string
	// Credentials reach a private repository.
	Credentials Credentials
}

// WatchChange changes the set of watches a Poller follows: Reset replaces
// the whole set with Put (a full list; watches not in it are dropped),
// otherwise Put adds watches or updates the ones with the same keys and
// Delete drops watches by key. Updates follow the rules of Watches: a
// changed URL or branch starts the watch over, a changed LastSeen is
// adopted.
type WatchChange struct {
	Reset  bool
	Put    []Watch
	Delete []string
}

// Clock is the Poller's time source; tests substitute a fake one.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Poller resolves watched branches at their intervals (jittered, at most
// Concurrency at a time) and reports heads that differ from the last
// commit it saw. Reports for one key never overlap; a report that fails is
// retried at the next resolve.
//
// A watch whose resolves fail backs off, up to 32 intervals (an hour at
// most, unless its interval is longer). When a host cannot be reached at
// all (DNS, connection, TLS, timeout), its watches stop resolving: one
// of them probes the host after its shortest watch interval, but at most
// 30 s, then at doubling waits up to 15 minutes, and when the host answers
// again they all resume. So thousands of watches on a dead forge cost one
// git process per probe, and the host is logged once when it goes down
// and once when it is back.
type Poller struct {
	// Watches returns the branches to follow; it is called at start and
	// every Refresh. Required unless Follow is set.
	Watches func(ctx context.Context) ([]Watch, error)
	// Follow, when set, keeps the watches current by sending changes as
	// they happen (e.g. from a store watch: one full list, then deltas),
	// so nothing needs to list every watch each Refresh. Run starts it in
	// a goroutine and applies what it sends in order; Follow must return
	// once ctx is done, never blocking on a send after that.
	Follow func(ctx context.Context, changes chan<- WatchChange)
	// OnNewCommit is called when a watch's head moved. Required.
	OnNewCommit func(ctx context.Context, key, commit string) error
	// Resolve returns a watch's head; default: git.Resolve with the
	// watch's credentials and Home.
	Resolve func(ctx context.Context, w Watch) (string, error)
	// Home is git's HOME for the default Resolve (see Options.Home).
	Home string
	// Interval is the default poll interval; default 1 minute.
	Interval time.Duration
	// Refresh is how often Watches is called; default 30 seconds.
	Refresh time.Duration
	// Concurrency bounds simultaneous resolves and callbacks; default 4.
	Concurrency int
	// Jitter spreads resolves by ± this fraction of the interval; default
	// 0.1, negative for none.
	Jitter float64
	// Timeout bounds one resolve; default 1 minute.
	Timeout time.Duration
	Log     *slog.Logger
	Clock   Clock
	// rand returns numbers in [0, 1); tests fix it.
	rand func() float64
}

// outcome is what a worker reports back to the loop.
type outcome struct {
	j        job
	commit   string
	err      error
	callback bool // the outcome of OnNewCommit, not of a resolve
}

type pollLoop struct {
	p           Poller
	s           schedule
	results     chan outcome
	changes     chan WatchChange // from Follow; nil without
	inflight    int
	wg          sync.WaitGroup
	nextRefresh time.Time
}

// Run polls until ctx is done, then waits for running callbacks (and
// Follow) and returns nil.
func (p *Poller) Run(ctx context.Context) error {
	l := p.loop()
	defer l.wg.Wait()
	l.follow(ctx)
	for {
		now := l.p.Clock.Now()
		if l.p.Watches != nil && !now.Before(l.nextRefresh) {
			l.refresh(ctx, now)
		}
		l.dispatch(ctx, now)
		select {
		case <-ctx.Done():
			return nil
		case o := <-l.results:
			l.inflight--
			l.handle(ctx, o)
		case c := <-l.changes:
			l.apply(c, l.p.Clock.Now())
		case <-l.timer(now):
		}
	}
}

// follow starts Follow, if set.
func (l *pollLoop) follow(ctx context.Context) {
	if l.p.Follow == nil {
		return
	}
	l.changes = make(chan WatchChange)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.p.Follow(ctx, l.changes)
	}()
}

// apply makes the schedule follow one change from Follow.
func (l *pollLoop) apply(c WatchChange, now time.Time) {
	if c.Reset {
		l.s.sync(c.Put, now)
		return
	}
	for _, w := range c.Put {
		l.s.put(w, now)
	}
	for _, k := range c.Delete {
		l.s.drop(k)
	}
}

// loop applies defaults to a copy of p.
func (p *Poller) loop() *pollLoop {
	c := *p
	c.Interval = orDefault(c.Interval, time.Minute)
	c.Refresh = orDefault(c.Refresh, 30*time.Second)
	c.Timeout = orDefault(c.Timeout, time.Minute)
	if c.Concurrency <= 0 {
		c.Concurrency = 4
	}
	switch {
	case c.Jitter == 0:
		c.Jitter = 0.1
	case c.Jitter < 0:
		c.Jitter = 0
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = realClock{}
	}
	if c.rand == nil {
		c.rand = rand.Float64
	}
	if c.Resolve == nil {
		c.Resolve = func(ctx context.Context, w Watch) (string, error) {
			return Resolve(ctx, w.URL, w.Branch, Options{Credentials: w.Credentials, Home: c.Home})
		}
	}
	l := &pollLoop{p: c, results: make(chan outcome, c.Concurrency)}
	l.s = schedule{interval: c.Interval, jitter: c.Jitter, rand: c.rand, hostChanged: l.logHost}
	return l
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func (l *pollLoop) refresh(ctx context.Context, now time.Time) {
	l.nextRefresh = now.Add(l.p.Refresh)
	ws, err := l.p.Watches(ctx)
	if err != nil {
		l.p.Log.Warn("listing git watches; keeping the previous list", "err", err)
		return
	}
	l.s.sync(ws, now)
}

// dispatch starts the resolves that are due, as slots allow.
func (l *pollLoop) dispatch(ctx context.Context, now time.Time) {
	for _, j := range l.s.due(now, l.p.Concurrency-l.inflight) {
		l.start(func() outcome {
			rctx, cancel := context.WithTimeout(ctx, l.p.Timeout)
			defer cancel()
			commit, err := l.p.Resolve(rctx, j.w)
			return outcome{j: j, commit: commit, err: err}
		})
	}
}

func (l *pollLoop) start(work func() outcome) {
	l.inflight++
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.results <- work() // never blocks: capacity ≥ in-flight workers
	}()
}

func (l *pollLoop) handle(ctx context.Context, o outcome) {
	now := l.p.Clock.Now()
	key := o.j.w.Key
	if o.callback {
		if o.err != nil {
			l.p.Log.Warn("reporting new commit", "key", key, "commit", o.commit, "err", o.err)
		}
		l.s.notified(o.j, o.commit, o.err, now)
		return
	}
	if o.err != nil && !(hostLevel(o.err) && hostKey(o.j.w.URL) != "") { // the host's state is logged instead
		l.p.Log.Warn("polling git branch", "key", key, "url", Redact(o.j.w.URL), "err", o.err)
	}
	if l.s.resolved(o.j, o.commit, o.err, now) {
		l.p.Log.Info("new commit", "key", key, "commit", o.commit)
		l.start(func() outcome {
			err := l.p.OnNewCommit(ctx, key, o.commit)
			return outcome{j: o.j, commit: o.commit, err: err, callback: true}
		})
	}
}

// logHost logs a host going down and coming back once each, rather than
// one failure per watch.
func (l *pollLoop) logHost(ev hostEvent) {
	switch ev.state {
	case hostDown:
		l.p.Log.Warn("git host unreachable; pausing its watches, probing it with one",
			"host", ev.host, "watches", ev.watches, "retry_in", ev.wait.Round(time.Second), "err", ev.err)
	case hostStillDown:
		l.p.Log.Debug("git host still unreachable", "host", ev.host, "retry_in", ev.wait.Round(time.Second), "err", ev.err)
	case hostUp:
		l.p.Log.Info("git host reachable again; resuming its watches",
			"host", ev.host, "watches", ev.watches, "down_for", ev.downFor.Round(time.Second))
	}
}

// timer fires at the next refresh or due resolve; nil (never) when there
// is neither.
func (l *pollLoop) timer(now time.Time) <-chan time.Time {
	next, ok := l.nextRefresh, l.p.Watches != nil
	if t, due := l.s.nextDue(); due && l.inflight < l.p.Concurrency && (!ok || t.Before(next)) {
		next, ok = t, true
	}
	if !ok {
		return nil
	}
	return l.p.Clock.After(max(next.Sub(now), 0))
}
