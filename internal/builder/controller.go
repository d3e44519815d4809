// Package builder runs Builds: the controllers that number them, admit
// them under the concurrency limits with fair share between namespaces,
// and run each admitted attempt through an Executor, then record its
// outcome on the Build and its Component.
//
//	Build{phase: ""} ──build-scheduler numbers it──► Queued
//	  ──build-admission (limits, fair share)──► build-executor claims it ──► Running
//	    Executor.Execute(Job) ─► Outcome ──────────────────────────────► Succeeded | Failed | Cancelled
//	a crash while Running ─► the scheduler re-queues it once (interrupted) ─► …
package builder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/controller"
	"github.com/kilnbuild/kiln/internal/executor"
	"github.com/kilnbuild/kiln/internal/lease"
	"github.com/kilnbuild/kiln/internal/logstore"
	"github.com/kilnbuild/kiln/internal/registry"
	"github.com/kilnbuild/kiln/internal/store"
)

// Executor runs one build attempt. It must honour ctx cancellation by
// stopping the pipeline and returning promptly.
type Executor interface {
	Execute(ctx context.Context, job executor.Job) (executor.Outcome, error)
}

// Untagger is an Executor that can remove the build-N tag an attempt of a
// build applied: Kiln calls it when a started build ends other than
// Succeeded.
type Untagger interface {
	Untag(ctx context.Context, b *v1alpha1.Build) error
}

// Controllers schedule and run builds.
type Controllers struct {
	// Executor runs each attempt.
	Executor Executor
	// Workers is how many builds run at once (the global limit; default 2).
	Workers int
	// NamespaceLimit is how many builds of one namespace run at once; 0
	// leaves only Workers. A Namespace's kiln.dev/max-concurrent-builds
	// annotation may lower it for that namespace. Free slots go to the
	// namespace with the fewest running builds (fair share; see admission).
	NamespaceLimit int
	// Logs keeps one log per build (every attempt appends).
	Logs *logstore.Store
	Log  *slog.Logger
	Now  func() time.Time
	// Remote, when set, runs builds on remote workers: builds of another
	// platform than Platform, and the others once the Workers local slots
	// are busy (all of them with LocalOff). Admission then admits up to
	// the local slots plus the workers' capacity (SetRemoteCapacity), with
	// the same fair share between namespaces.
	Remote   executor.Remote
	LocalOff bool
	Platform string
	// Claims, when set, hold one lease per running build (lease.ClaimName)
	// in the lease store every replica on the database shares: an attempt
	// runs only while this replica holds the build's claim (the session
	// renews all of them together), and a Running build is re-queued only
	// once its claim is dead. Without Claims (one process) a Running build
	// this process does not run is re-queued at once. The caller runs the
	// session (Session.Run).
	Claims *lease.Session

	reg       *registry.Registry
	mu        sync.Mutex
	running   map[controller.Request]context.CancelFunc
	adm       *admission
	localBusy int
}

// MaxRemoteSlots bounds the builds running on remote workers at once.
const MaxRemoteSlots = 1024

// Register adds the build scheduler, admission and executor to m. The
// scheduler numbers builds; admission keeps the fair queue of Queued builds
// (fairQueue) and hands the executor only the builds that may start.
func (c *Controllers) Register(m *controller.Manager) {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Workers <= 0 {
		c.Workers = 2
	}
	if c.Platform == "" {
		c.Platform = runtime.GOOS + "/" + runtime.GOARCH
	}
	c.reg, c.running, c.adm = m.Registry(), map[controller.Request]context.CancelFunc{}, newAdmission(c.Workers, c.NamespaceLimit)
	slots := c.Workers
	if c.Remote != nil {
		c.adm.q.SetGlobal(c.localSlots())
		slots = c.localSlots() + MaxRemoteSlots
	}
	src := controller.Source{Kind: "Build", Settled: finishedBuild}
	// The scheduler is a singleton (the leader's); admission and the
	// executor run on every replica, each running the builds it claims.
	m.Register("build-scheduler", controller.For(c.reg, c.schedule).OnGone(c.deleted), controller.Options{Workers: 8}, src)
	c.adm.admit = m.Register("build-admission", controller.ByKind{
		"Build":     controller.For(c.reg, c.admitBuild).OnGone(c.gone),
		"Namespace": controller.ReconcileFunc(c.namespaceLimit),
	}, controller.Options{Workers: 1, EveryReplica: true}, src, controller.Source{Kind: "Namespace"})
	// No source: the executor is fed by admission only.
	c.adm.exec = m.Register("build-executor", controller.ReconcileFunc(c.execute), controller.Options{Workers: slots, EveryReplica: true})
}

var buildKind = v1alpha1.MustLookup("Build")

// finishedBuild reports, from the indexed phase, that a stored build has
// ended: the scheduler and admission have nothing left to do for it
// unless it changes.
func finishedBuild(o *store.Object) bool {
	switch o.Fields["status.phase"] {
	case v1alpha1.BuildSucceeded, v1alpha1.BuildFailed, v1alpha1.BuildCancelled:
		return true
	}
	return false
}

// requestOf is the request naming build b (the key of its slot and of its
// running attempt).
func requestOf(b *v1alpha1.Build) controller.Request {
	return controller.Request{Kind: "Build", Namespace: b.Namespace, Name: b.Name}
}

// deleted stops the attempt of a build deleted while running: nothing may
// write for it any more.
func (c *Controllers) deleted(req controller.Request) { c.stopRunning(req) }

// gone takes a deleted build out of this replica's fair queue and stops
// its attempt if it runs here.
func (c *Controllers) gone(req controller.Request) {
	c.adm.remove(req)
	c.stopRunning(req)
}

// schedule numbers new builds, cancels, and re-queues builds a crash
// interrupted. It never blocks on a running build.
func (c *Controllers) schedule(ctx context.Context, b *v1alpha1.Build) (controller.Result, error) {
	if b.Finished() {
		return controller.Result{}, nil
	}
	req := requestOf(b)
	switch {
	case b.Spec.Cancel:
		return controller.Result{}, c.cancel(ctx, req, b)
	case b.Status.Phase == "":
		return controller.Result{}, c.number(ctx, b)
	case b.Status.Phase == v1alpha1.BuildRunning && !c.isRunning(req):
		return c.recoverIfDead(ctx, b)
	}
	return controller.Result{}, nil
}

// recoverIfDead re-queues a Running build whose claim is dead: released
// without a final status, expired, held by an earlier incarnation of this
// replica, or never taken (a build started without claims). A live claim
// is looked at again every half TTL, so a dead replica's builds are taken
// over within about 1.5 TTL.
func (c *Controllers) recoverIfDead(ctx context.Context, b *v1alpha1.Build) (controller.Result, error) {
	if c.Claims == nil {
		return controller.Result{}, c.recover(ctx, b)
	}
	l, err := c.Claims.Store.Get(ctx, lease.ClaimName(b.Namespace, b.Name))
	if err != nil && !errors.Is(err, lease.ErrNotFound) {
		return controller.Result{}, err
	}
	if err == nil && l.Alive && !lease.EarlierIncarnation(l.Holder, c.Claims.Holder) {
		return controller.Result{RequeueAfter: c.claimTTL() / 2}, nil
	}
	return controller.Result{}, c.recover(ctx, b)
}

// number takes the component's next build number and queues the build.
func (c *Controllers) number(ctx context.Context, b *v1alpha1.Build) error {
	if err := c.label(ctx, b); err != nil {
		return err
	}
	n, err := c.nextNumber(ctx, b.Namespace, b.Spec.Component, b.Name)
	if err != nil {
		return err
	}
	now := metav1.NewTime(c.Now())
	b.Status.Phase, b.Status.BuildNumber, b.Status.QueuedTime = v1alpha1.BuildQueued, n, &now
	b.Status.ObservedGeneration = b.Generation
	return c.writeStatus(ctx, b)
}

// label makes every build selectable by component and application (names
// fitted to label values).
func (c *Controllers) label(ctx context.Context, b *v1alpha1.Build) error {
	if b.Labels[v1alpha1.LabelComponent] == v1alpha1.LabelValue(b.Spec.Component) && b.Labels[v1alpha1.LabelApplication] != "" {
		return nil
	}
	comp, err := registry.Get[v1alpha1.Component](ctx, c.reg, b.Namespace, b.Spec.Component)
	if err != nil {
		return err
	}
	if b.Labels == nil {
		b.Labels = map[string]string{}
	}
	b.Labels[v1alpha1.LabelComponent] = v1alpha1.LabelValue(b.Spec.Component)
	b.Labels[v1alpha1.LabelApplication] = v1alpha1.LabelValue(comp.Spec.Application)
	out, err := c.reg.Update(ctx, buildKind, b, registry.UpdateOptions{})
	if err != nil {
		return err
	}
	*b = *out.(*v1alpha1.Build)
	return nil
}

// nextNumber increments the component's build counter.
func (c *Controllers) nextNumber(ctx context.Context, ns, component, build string) (int64, error) {
	var n int64
	err := c.updateComponent(ctx, ns, component, func(comp *v1alpha1.Component) {
		comp.Status.BuildCounter++
		comp.Status.LastBuild = build
		n = comp.Status.BuildCounter
	})
	return n, err
}

// updateComponent applies fn to the component's status, retrying on
// conflicts.
func (c *Controllers) updateComponent(ctx context.Context, ns, name string, fn func(*v1alpha1.Component)) error {
	_, err := registry.UpdateStatus(ctx, c.reg, ns, name, func(comp *v1alpha1.Component) error {
		fn(comp)
		return nil
	})
	return err
}

// writeStatus writes b's status and takes the stored version into b, so
// that the attempt can write again (its final status after a claim).
func (c *Controllers) writeStatus(ctx context.Context, b *v1alpha1.Build) error {
	out, err := registry.WriteStatus(ctx, c.reg, b)
	if err == nil {
		*b = *out
	}
	return err
}

func (c *Controllers) cancel(ctx context.Context, req controller.Request, b *v1alpha1.Build) error {
	if c.stopRunning(req) {
		return nil // the executor writes the final status
	}
	if b.Status.Phase == v1alpha1.BuildRunning {
		return nil // running elsewhere; it will see the cancel
	}
	return c.finish(ctx, b, v1alpha1.BuildCancelled, "cancelled before it started")
}

// stopRunning cancels the build's attempt if this process runs it.
func (c *Controllers) stopRunning(req controller.Request) bool {
	c.mu.Lock()
	stop := c.running[req]
	c.mu.Unlock()
	if stop != nil {
		stop()
	}
	return stop != nil
}

// recover handles a build left Running by a crash: it is retried once.
func (c *Controllers) recover(ctx context.Context, b *v1alpha1.Build) error {
	b.Status.Interrupted = true
	if b.Status.Attempts >= 2 {
		return c.finish(ctx, b, v1alpha1.BuildFailed, "interrupted twice by a server restart; not retried again")
	}
	b.Status.Phase = v1alpha1.BuildQueued
	b.Status.Message = "interrupted by a server restart (or its replica died); retrying once"
	c.Log.Warn("re-queueing a build interrupted by a restart", "build", b.Namespace+"/"+b.Name, "attempt", b.Status.Attempts)
	return c.writeStatus(ctx, b)
}

// finish ends the build. A build that started and does not succeed loses
// the build-N tag any of its attempts applied (an attempt tags its outputs
// last, but a crash can still come between the tags and the status), so
// build-N only ever names the artifact of a succeeded build; a tag that
// cannot be removed is said in the message.
func (c *Controllers) finish(ctx context.Context, b *v1alpha1.Build, phase, msg string) error {
	if u, ok := c.Executor.(Untagger); ok && phase != v1alpha1.BuildSucceeded && b.Status.Attempts > 0 {
		if err := u.Untag(ctx, b); err != nil {
			c.Log.Error("removing the tag of a build that did not succeed", "build", b.Namespace+"/"+b.Name, "err", err)
			msg += fmt.Sprintf("; its tag build-%d could not be removed (%v): delete it by hand", b.Status.BuildNumber, err)
		}
	}
	now := metav1.NewTime(c.Now())
	b.Status.Phase, b.Status.Message, b.Status.CompletionTime = phase, msg, &now
	return c.writeStatus(ctx, b)
}

func (c *Controllers) isRunning(req controller.Request) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.running[req]
	return ok
}

// claimTTL is the claims' time to live.
func (c *Controllers) claimTTL() time.Duration {
	if c.Claims == nil || c.Claims.TTL <= 0 {
		return lease.DefaultTTL
	}
	return c.Claims.TTL
}
