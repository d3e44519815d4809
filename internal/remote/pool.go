package remote

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/auth"
	"github.com/kilnbuild/kiln/internal/executor"
	"github.com/kilnbuild/kiln/internal/registry"
)

// DefaultLeaseDuration is how long a worker's lease lasts unless renewed.
const DefaultLeaseDuration = 15 * time.Second

// pollWait bounds one long-poll for a lease.
const pollWait = 20 * time.Second

// Pool hands builds to remote workers: it implements executor.Remote for
// the build executor and serves the worker protocol (Handler).
type Pool struct {
	Reg   *registry.Registry
	Authn *auth.Authenticator
	// LeaseDuration is how long a lease lasts unless renewed (default
	// DefaultLeaseDuration).
	LeaseDuration time.Duration
	// Capacity is told the sum of the live workers' capacities whenever
	// it changes (the build admission's share of remote slots).
	Capacity func(n int)
	// Current rewrites an artifact reference naming an address Kiln's
	// registry had before to where it is now (nil: references as stored).
	Current func(ref string) string
	Log     *slog.Logger
	Now     func() time.Time

	mu       sync.Mutex
	workers  map[string]*worker
	queue    []*assignment // waiting for a worker, in admission order
	active   map[buildKey]*assignment
	wake     chan struct{} // closed when the queue grows
	capacity int
}

type worker struct {
	platform string
	capacity int
	running  int
	polls    int
	seen     time.Time
}

type buildKey struct{ ns, name string }

// Assignment states.
const (
	queued = iota
	granting
	leased
	ended
)

// assignment is one attempt offered to, then held by, a worker.
type assignment struct {
	key      buildKey
	job      executor.Job
	task     executor.RemoteTask
	platform string
	done     chan result

	// Guarded by Pool.mu.
	state     int
	worker    string
	gen       int64
	expires   time.Time
	tokenName string
	tokenExp  time.Time
	logOffset int64
}

type result struct {
	rep executor.RemoteReport
	err error
}

var errLeaseLost = errors.New("the worker's lease lapsed")

// ServerPlatform is this process's os/arch.
func ServerPlatform() string { return runtime.GOOS + "/" + runtime.GOARCH }

// PlatformOf is the platform a component builds on (def when unset).
func PlatformOf(c *v1alpha1.Component, def string) string {
	if c.Spec.Build != nil && c.Spec.Build.Platform != "" {
		return c.Spec.Build.Platform
	}
	return def
}

func (p *Pool) init() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.workers != nil {
		return
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.LeaseDuration <= 0 {
		p.LeaseDuration = DefaultLeaseDuration
	}
	if p.Log == nil {
		p.Log = slog.Default()
	}
	p.workers, p.active, p.wake = map[string]*worker{}, map[buildKey]*assignment{}, make(chan struct{})
}

// Run keeps the remote capacity up to date until ctx ends: a worker that
// neither polls nor renews for a while no longer counts.
func (p *Pool) Run(ctx context.Context) {
	p.init()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		p.updateCapacity()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// liveWindow is how long a worker counts after it was last heard of.
func (p *Pool) liveWindow() time.Duration { return max(2*p.LeaseDuration, pollWait+5*time.Second) }

func (p *Pool) updateCapacity() {
	p.mu.Lock()
	n, now := 0, p.Now()
	for name, w := range p.workers {
		switch {
		case w.polls > 0 || w.running > 0 || now.Sub(w.seen) < p.liveWindow():
			n += w.capacity
		default:
			delete(p.workers, name)
		}
	}
	changed := n != p.capacity
	p.capacity = n
	p.mu.Unlock()
	if changed && p.Capacity != nil {
		p.Capacity(n)
	}
}

// RunRemote offers the attempt to the workers of its platform and waits
// for the report. A lease that lapses (worker killed, partitioned) is taken
// back and the attempt offered again, once; the loss is recorded on the
// build (condition WorkerLost).
func (p *Pool) RunRemote(ctx context.Context, job executor.Job, task executor.RemoteTask) (executor.RemoteReport, error) {
	p.init()
	platform := PlatformOf(job.Component, ServerPlatform())
	var lost []string
	for {
		a := p.offer(job, task, platform)
		fmt.Fprintf(job.Log, "==> waiting for a remote worker (%s)\n", platform)
		rep, err := p.await(ctx, a)
		if !errors.Is(err, errLeaseLost) {
			return rep, err
		}
		lost = append(lost, a.worker)
		retry := len(lost) < 2
		p.recordLost(context.WithoutCancel(ctx), a, retry)
		if !retry {
			return rep, fmt.Errorf("workers %s lost their leases of this build: not retried again", strings.Join(lost, " and "))
		}
		fmt.Fprintf(job.Log, "==> worker %s lost its lease (generation %d): retrying once on another worker\n", a.worker, a.gen)
	}
}

// offer queues an attempt and wakes the workers waiting for one.
func (p *Pool) offer(job executor.Job, task executor.RemoteTask, platform string) *assignment {
	a := &assignment{key: buildKey{job.Build.Namespace, job.Build.Name}, job: job, task: task, platform: platform, done: make(chan result, 1)}
	p.mu.Lock()
	p.queue = append(p.queue, a)
	close(p.wake)
	p.wake = make(chan struct{})
	p.mu.Unlock()
	return a
}

// await waits for the worker's report, the attempt's end, or the lease
// to lapse.
func (p *Pool) await(ctx context.Context, a *assignment) (executor.RemoteReport, error) {
	t := time.NewTicker(max(p.LeaseDuration/10, 50*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case r := <-a.done:
			p.end(context.WithoutCancel(ctx), a)
			return r.rep, r.err
		case <-ctx.Done():
			p.end(context.WithoutCancel(ctx), a)
			return executor.RemoteReport{}, ctx.Err()
		case <-t.C:
			if p.lapsed(a) {
				p.end(context.WithoutCancel(ctx), a)
				return executor.RemoteReport{}, errLeaseLost
			}
		}
	}
}

func (p *Pool) lapsed(a *assignment) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return a.state == leased && p.Now().After(a.expires)
}

// end takes the attempt back from the queue or from its worker: its push
// token is deleted and its lease released, so the holder's later requests
// and pushes are refused.
func (p *Pool) end(ctx context.Context, a *assignment) {
	p.mu.Lock()
	state, token := a.state, a.tokenName
	a.state = ended
	p.queue = slices.DeleteFunc(p.queue, func(q *assignment) bool { return q == a })
	if state == leased {
		delete(p.active, a.key)
		if w := p.workers[a.worker]; w != nil {
			w.running--
		}
	}
	p.mu.Unlock()
	if state == leased {
		p.revoke(ctx, token)
		p.release(ctx, a)
	}
}

// next takes the first queued attempt of platform for a worker with room.
func (p *Pool) next(name, platform string) *assignment {
	w := p.workers[name]
	if w == nil || w.running >= w.capacity {
		return nil
	}
	for i, a := range p.queue {
		if a.platform == platform {
			p.queue = slices.Delete(p.queue, i, i+1)
			a.state = granting
			w.running++
			return a
		}
	}
	return nil
}

// heartbeat records that worker name is alive with this capacity.
func (p *Pool) heartbeat(name string, req LeaseRequest) *worker {
	p.mu.Lock()
	defer p.mu.Unlock()
	w := p.workers[name]
	if w == nil {
		w = &worker{}
		p.workers[name] = w
		p.Log.Info("remote worker joined", "worker", name, "platform", req.Platform, "capacity", req.Capacity)
	}
	w.platform, w.capacity, w.seen = req.Platform, req.Capacity, p.Now()
	return w
}

// lease waits up to pollWait for an attempt for worker name, and grants
// it: nil when none came.
func (p *Pool) lease(ctx context.Context, name string, req LeaseRequest) (*Task, error) {
	p.init()
	p.heartbeat(name, req)
	p.polling(name, 1)
	defer p.polling(name, -1)
	timeout := time.NewTimer(pollWait)
	defer timeout.Stop()
	for {
		p.mu.Lock()
		a, wake := p.next(name, req.Platform), p.wake
		p.mu.Unlock()
		if a != nil {
			return p.grant(ctx, a, name)
		}
		select {
		case <-wake:
		case <-timeout.C:
			return nil, nil
		case <-ctx.Done():
			return nil, nil
		}
	}
}

func (p *Pool) polling(name string, d int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if w := p.workers[name]; w != nil {
		w.polls += d
		w.seen = p.Now()
	}
}

// grant gives attempt a to worker name: the lease is written on the build
// (a new generation), a push token issued, and the task returned. An
// attempt that cannot be granted goes back to the front of the queue.
func (p *Pool) grant(ctx context.Context, a *assignment, name string) (*Task, error) {
	task, err := p.grantLease(ctx, a, name)
	if err == nil {
		return task, nil
	}
	p.mu.Lock()
	if w := p.workers[name]; w != nil {
		w.running--
	}
	if a.state == granting {
		a.state = queued
		p.queue = append([]*assignment{a}, p.queue...)
	}
	p.mu.Unlock()
	return nil, err
}

func (p *Pool) grantLease(ctx context.Context, a *assignment, name string) (*Task, error) {
	gen, err := p.acquire(ctx, a, name)
	if err != nil {
		return nil, err
	}
	tokName, token, err := p.issueToken(ctx, a, gen)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	ok := a.state == granting
	if ok {
		a.state, a.worker, a.gen, a.tokenName, a.tokenExp = leased, name, gen, tokName, p.Now().Add(p.tokenLifetime())
		a.expires = p.Now().Add(p.LeaseDuration)
		p.active[a.key] = a
	}
	p.mu.Unlock()
	if !ok { // the attempt ended meanwhile
		p.revoke(context.WithoutCancel(ctx), tokName)
		p.release(context.WithoutCancel(ctx), &assignment{key: a.key, gen: gen})
		return nil, fmt.Errorf("build %s/%s ended while it was being leased", a.key.ns, a.key.name)
	}
	p.Log.Info("build leased to a remote worker", "build", a.key.ns+"/"+a.key.name, "worker", name, "generation", gen)
	fmt.Fprintf(a.job.Log, "==> leased to worker %s (generation %d)\n", name, gen)
	return p.taskFor(a, gen, token), nil
}

func (p *Pool) taskFor(a *assignment, gen int64, token string) *Task {
	b, t := a.job.Build, a.task
	return &Task{Namespace: b.Namespace, Build: b.Name, Component: a.job.Component.Name, Generation: gen,
		LeaseSeconds: p.LeaseDuration.Seconds(), PushToken: token, Registry: t.Registry, Repository: t.Repository,
		GitURL: a.job.Component.Spec.Source.Git.URL, Commit: t.Commit, Epoch: t.Epoch,
		BuildNumber: b.Status.BuildNumber, Inputs: p.current(b.Spec.Inputs), Plan: t.Plan}
}

// current is inputs with their repositories where Kiln's registry is now.
func (p *Pool) current(inputs []v1alpha1.BuildInput) []v1alpha1.BuildInput {
	if p.Current == nil {
		return inputs
	}
	out := slices.Clone(inputs)
	for i := range out {
		out[i].Repository = p.Current(out[i].Repository)
	}
	return out
}

// errNotHeld answers requests of a worker that does not hold the lease.
var errNotHeld = errors.New("lease not held")

// held returns the attempt worker name holds on build k at generation
// gen, if its lease is alive.
func (p *Pool) held(name string, k buildKey, gen int64) (*assignment, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.active[k]
	if a == nil || a.worker != name || a.gen != gen || a.state != leased {
		return nil, fmt.Errorf("%w: build %s/%s is not leased to worker %s at generation %d (it ended, or was taken back and retried elsewhere)", errNotHeld, k.ns, k.name, name, gen)
	}
	if p.Now().After(a.expires) {
		return nil, fmt.Errorf("%w: the lease of build %s/%s (generation %d) lapsed at %s", errNotHeld, k.ns, k.name, gen, a.expires.UTC().Format(time.RFC3339Nano))
	}
	return a, nil
}

// renew extends the lease of a held attempt, on the build first.
func (p *Pool) renew(ctx context.Context, name string, k buildKey, gen int64) (time.Time, error) {
	a, err := p.held(name, k, gen)
	if err != nil {
		return time.Time{}, err
	}
	now := p.Now()
	if err := p.renewStored(ctx, a, gen, now); err != nil {
		return time.Time{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if a.state != leased || a.gen != gen {
		return time.Time{}, fmt.Errorf("%w: build %s/%s was taken back", errNotHeld, k.ns, k.name)
	}
	a.expires = now.Add(p.LeaseDuration)
	if w := p.workers[name]; w != nil {
		w.seen = now
	}
	if a.tokenExp.Sub(now) < p.tokenLifetime()/2 {
		a.tokenExp = now.Add(p.tokenLifetime())
		go p.extendToken(context.WithoutCancel(ctx), a.tokenName, a.tokenExp)
	}
	return a.expires, nil
}

// complete hands the worker's report to the waiting attempt.
func (p *Pool) complete(name string, k buildKey, c Completion) error {
	a, err := p.held(name, k, c.Generation)
	if err != nil {
		return err
	}
	r := result{rep: executor.RemoteReport{Worker: name, Platform: a.platform, Steps: c.Steps, Outputs: c.Outputs,
		Prefetched: c.Prefetched, Failed: c.Failed, Message: c.Message}}
	if c.Error {
		r = result{err: fmt.Errorf("worker %s could not run the build: %s", name, c.Message)}
	}
	select {
	case a.done <- r:
		return nil
	default:
		return fmt.Errorf("%w: build %s/%s was already reported", errNotHeld, k.ns, k.name)
	}
}

// appendLog writes a chunk of the worker's log at offset: chunks already
// received (a retried request) are skipped, a gap is refused.
func (p *Pool) appendLog(name string, k buildKey, gen, offset int64, chunk []byte) error {
	a, err := p.held(name, k, gen)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if offset > a.logOffset {
		return fmt.Errorf("log chunk at offset %d: the server has %d bytes; send from there", offset, a.logOffset)
	}
	skip := min(a.logOffset-offset, int64(len(chunk)))
	n, err := a.job.Log.Write(chunk[skip:])
	a.logOffset += int64(n)
	return err
}
