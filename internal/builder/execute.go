package builder

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/controller"
	"github.com/kilnbuild/kiln/internal/executor"
	"github.com/kilnbuild/kiln/internal/lease"
	"github.com/kilnbuild/kiln/internal/logstore"
	"github.com/kilnbuild/kiln/internal/registry"
)

// execute runs a build admission admitted, holding its slot until the
// attempt ends; a failed attempt to start keeps the slot while the runtime
// retries it with backoff. There are Workers executor workers and admission
// admits at most Workers builds, so an admitted build starts at once. A
// build another replica claimed leaves the slot and is looked at again
// after a while (by then its Running status has arrived, or its claim died).
func (c *Controllers) execute(ctx context.Context, req controller.Request) (controller.Result, error) {
	if !c.adm.admitted(req) {
		return controller.Result{}, nil // stale: only admitted builds run
	}
	err := c.attempt(ctx, req)
	if errors.Is(err, lease.ErrHeld) {
		c.adm.done(req, c.claimTTL()/4)
		return controller.Result{}, nil
	}
	if err != nil {
		return controller.Result{}, err
	}
	c.adm.done(req, 0)
	return controller.Result{}, nil
}

// attempt claims a queued build and runs it to the end.
func (c *Controllers) attempt(ctx context.Context, req controller.Request) error {
	b, err := registry.Get[v1alpha1.Build](ctx, c.reg, req.Namespace, req.Name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil || b.Status.Phase != v1alpha1.BuildQueued || b.Spec.Cancel {
		return err
	}
	claimCtx, release, err := c.takeClaim(ctx, b)
	if err != nil {
		return err
	}
	defer release()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	stopOnLoss := context.AfterFunc(claimCtx, stop)
	defer stopOnLoss()
	if err := c.claim(ctx, req, b, stop); err != nil {
		return err
	}
	defer c.release(req)
	return c.run(runCtx, ctx, b, claimCtx)
}

// takeClaim takes the build's claim lease (with Claims) and keeps it
// renewed; its context ends if the claim is lost. Another replica's live
// claim is an error satisfying errors.Is(err, lease.ErrHeld).
func (c *Controllers) takeClaim(ctx context.Context, b *v1alpha1.Build) (context.Context, func(), error) {
	if c.Claims == nil {
		return context.Background(), func() {}, nil
	}
	name := lease.ClaimName(b.Namespace, b.Name)
	lctx, _, err := c.Claims.Hold(ctx, lease.Request{Name: name})
	if err != nil {
		return nil, nil, fmt.Errorf("claiming build %s/%s: %w", b.Namespace, b.Name, err)
	}
	return lctx, func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := c.Claims.Release(rctx, name); err != nil {
			c.Log.Warn("releasing a build's claim (it expires by itself)", "build", b.Namespace+"/"+b.Name, "err", err)
		}
	}, nil
}

// claim moves the build to Running; it fails if another writer got there
// first (the retry sees the build's new phase).
func (c *Controllers) claim(ctx context.Context, req controller.Request, b *v1alpha1.Build, stop context.CancelFunc) error {
	c.mu.Lock()
	c.running[req] = stop
	c.mu.Unlock()
	now := metav1.NewTime(c.Now())
	b.Status.Phase, b.Status.StartTime, b.Status.CompletionTime = v1alpha1.BuildRunning, &now, nil
	b.Status.Attempts++
	b.Status.Steps = nil
	if err := c.writeStatus(ctx, b); err != nil {
		c.release(req)
		return fmt.Errorf("claiming build %s/%s: %w", b.Namespace, b.Name, err)
	}
	return nil
}

func (c *Controllers) release(req controller.Request) {
	c.mu.Lock()
	delete(c.running, req)
	c.mu.Unlock()
}

// run executes the attempt and records its outcome. ctx is the attempt's
// (cancelled by spec.cancel or the loss of the claim); base outlives it for
// the final writes; claim ends if the claim was lost: then nothing is
// recorded (the leader re-queues the build).
func (c *Controllers) run(ctx, base context.Context, b *v1alpha1.Build, claim context.Context) error {
	comp, err := registry.Get[v1alpha1.Component](base, c.reg, b.Namespace, b.Spec.Component)
	if err != nil {
		return c.finish(base, b, v1alpha1.BuildFailed, "component: "+err.Error())
	}
	logf, err := c.Logs.Append(logstore.Key{Kind: logstore.Build, Namespace: b.Namespace, Name: b.Name})
	if err != nil {
		return c.finish(base, b, v1alpha1.BuildFailed, err.Error())
	}
	defer c.closeLog(logf)
	fmt.Fprintf(logf, "==> build %s/%s #%d (attempt %d) of component %s%s\n", b.Namespace, b.Name, b.Status.BuildNumber, b.Status.Attempts, b.Spec.Component, c.where())
	progress := c.progressWriter(base, b)
	remote, placed, err := c.place(comp)
	defer placed()
	if err != nil {
		return c.finish(base, b, v1alpha1.BuildFailed, err.Error())
	}
	out, err := c.Executor.Execute(ctx, executor.Job{Build: b, Component: comp, Log: logf,
		Progress: progress, Cached: c.cached(b), Pushed: c.outputsWriter(base, b), Remote: remote})
	if err == nil && !out.Failed {
		err = logf.Err() // output the log lost fails the build
	}
	if claim.Err() != nil {
		fmt.Fprintf(logf, "==> this replica lost the build's claim (%v): the outcome of attempt %d is not recorded\n", context.Cause(claim), b.Status.Attempts)
		c.Log.Warn("lost the claim of a running build; its outcome is dropped", "build", b.Namespace+"/"+b.Name, "cause", context.Cause(claim))
		return nil
	}
	return c.record(ctx, base, b, out, err, logf)
}

// closeLog closes a build's log; what its last lines lost is said in the
// server's log (the build's outcome is recorded by then).
func (c *Controllers) closeLog(l *logstore.Log) {
	if err := l.Close(); err != nil {
		c.Log.Error("the build log is incomplete", "err", err)
	}
}

// outputsWriter records the outputs an attempt pushed on the running
// build, before they are tagged.
func (c *Controllers) outputsWriter(ctx context.Context, b *v1alpha1.Build) func([]v1alpha1.BuildArtifact) error {
	return func(outs []v1alpha1.BuildArtifact) error {
		_, err := registry.UpdateStatus(ctx, c.reg, b.Namespace, b.Name, func(cur *v1alpha1.Build) error {
			if !sameAttempt(cur, b) {
				return fmt.Errorf("build %s/%s is no longer this attempt's (%s, attempt %d)", b.Namespace, b.Name, cur.Status.Phase, cur.Status.Attempts)
			}
			cur.Status.Outputs = outs
			return nil
		})
		return err
	}
}

// sameAttempt reports whether cur (fresh from the store) is still running
// the attempt b started: the attempt number is the fencing token of a run.
func sameAttempt(cur, b *v1alpha1.Build) bool {
	return cur.Status.Phase == v1alpha1.BuildRunning && cur.Status.Attempts == b.Status.Attempts
}

// errNotRunning ends a progress update of a build that no longer runs.
var errNotRunning = errors.New("the build is not running")

// progressWriter returns a Progress callback that writes step status at most
// every 300 ms, and always for the last call before the outcome.
func (c *Controllers) progressWriter(ctx context.Context, b *v1alpha1.Build) func([]v1alpha1.BuildStep) {
	var mu sync.Mutex
	var last time.Time
	return func(steps []v1alpha1.BuildStep) {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(last) < 300*time.Millisecond {
			return
		}
		last = time.Now()
		_, _ = registry.UpdateStatus(ctx, c.reg, b.Namespace, b.Name, func(cur *v1alpha1.Build) error {
			if !sameAttempt(cur, b) {
				return errNotRunning
			}
			cur.Status.Steps = steps
			return nil
		})
	}
}

// record writes the final status of the build and, on success, the
// component's: unless the build is a pull request's, which never becomes
// the component's current state (commit, artifact, capabilities), nor is
// compared with it (a pull request's output is never "unchanged").
func (c *Controllers) record(ctx, base context.Context, b *v1alpha1.Build, out executor.Outcome, err error, log interface{ Write([]byte) (int, error) }) error {
	cur, gerr := registry.Get[v1alpha1.Build](base, c.reg, b.Namespace, b.Name)
	if gerr != nil {
		return gerr
	}
	if !sameAttempt(cur, b) {
		// Fenced: the build was re-queued or taken over meanwhile (this
		// process paused longer than its claim lived). The status write
		// below is conditional on cur's resource version, so this check
		// holds until it commits.
		c.Log.Warn("an attempt ended after its build moved on; its outcome is dropped", "build", b.Namespace+"/"+b.Name,
			"attempt", b.Status.Attempts, "phase", cur.Status.Phase, "current attempt", cur.Status.Attempts)
		return nil
	}
	applyOutcome(cur, out)
	phase, msg := outcomePhase(ctx, out, err)
	pr := cur.PullRequest()
	if phase == v1alpha1.BuildSucceeded && !pr {
		cur.Status.Unchanged = c.sameOutput(base, b, out)
		if cur.Status.Unchanged {
			msg += "; output identical to the previous artifact: it stays current"
		}
	}
	fmt.Fprintf(log, "==> %s: %s\n", phase, msg)
	if err := c.finish(base, cur, phase, msg); err != nil {
		return err
	}
	if phase != v1alpha1.BuildSucceeded || pr {
		return nil
	}
	return c.updateComponent(base, b.Namespace, b.Spec.Component, func(comp *v1alpha1.Component) {
		comp.Status.LastBuiltCommit = out.Commit
		if out.Capabilities != nil {
			comp.Status.Capabilities = out.Capabilities
		}
		if out.Artifact != nil && !cur.Status.Unchanged {
			comp.Status.LatestArtifact = out.Artifact.Digest
			comp.Status.LatestArtifactRef = out.Artifact.Repository + "@" + out.Artifact.Digest
			comp.Status.LatestContentDigest = out.ContentDigest
		}
	})
}

// sameOutput reports whether the build's output is the component's current
// artifact, by content (early cutoff).
func (c *Controllers) sameOutput(ctx context.Context, b *v1alpha1.Build, out executor.Outcome) bool {
	if out.ContentDigest == "" || out.Artifact == nil {
		return false
	}
	comp, err := registry.Get[v1alpha1.Component](ctx, c.reg, b.Namespace, b.Spec.Component)
	if err != nil {
		return false
	}
	return comp.Status.LatestContentDigest == out.ContentDigest && comp.Status.LatestArtifact != ""
}

func applyOutcome(b *v1alpha1.Build, out executor.Outcome) {
	b.Status.Commit, b.Status.TreeHash = out.Commit, out.TreeHash
	b.Status.Pipeline, b.Status.Steps = out.Pipeline, out.Steps
	b.Status.InputsDigest, b.Status.Artifact, b.Status.CachedFrom = out.InputsDigest, out.Artifact, out.CachedFrom
	if out.Outputs != nil {
		b.Status.Outputs = out.Outputs
	}
	b.Status.Evidence = out.Evidence
	b.Status.ContentDigest, b.Status.Capabilities = out.ContentDigest, out.Capabilities
	if out.Unresolvable {
		meta.SetStatusCondition(&b.Status.Conditions, metav1.Condition{Type: v1alpha1.ConditionDependenciesResolved,
			Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonUnresolvable, Message: out.Message, ObservedGeneration: b.Generation})
	}
}

func outcomePhase(ctx context.Context, out executor.Outcome, err error) (string, string) {
	switch {
	case ctx.Err() != nil:
		return v1alpha1.BuildCancelled, "cancelled"
	case err != nil:
		return v1alpha1.BuildFailed, err.Error()
	case out.Failed:
		return v1alpha1.BuildFailed, out.Message
	case out.CachedFrom != "":
		return v1alpha1.BuildSucceeded, "inputs identical to build " + out.CachedFrom + ": reused its artifact"
	}
	return v1alpha1.BuildSucceeded, out.Message
}

// cached returns the lookup for earlier successful builds of the same
// component with identical inputs, newest first. A branch build does not
// reuse a pull request build's artifact: its evidence (provenance) names
// the pull request's commit, which the branch's Snapshot would not match,
// and a pull request's build must not become the branch's. A pull request
// build may reuse any.
func (c *Controllers) cached(b *v1alpha1.Build) func(context.Context, string) (*v1alpha1.Build, bool) {
	return func(ctx context.Context, digest string) (*v1alpha1.Build, bool) {
		if b.Spec.NoCache || digest == "" {
			return nil, false
		}
		builds, err := registry.List[v1alpha1.Build](ctx, c.reg, registry.ListOptions{Namespace: b.Namespace,
			FieldSelector: "spec.component=" + b.Spec.Component + ",status.phase=" + v1alpha1.BuildSucceeded})
		if err != nil {
			return nil, false
		}
		var hits []*v1alpha1.Build
		for _, ob := range builds {
			if ob.Status.InputsDigest == digest && ob.Status.Artifact != nil && ob.Name != b.Name && (b.PullRequest() || !ob.PullRequest()) {
				hits = append(hits, ob)
			}
		}
		sort.Slice(hits, func(i, j int) bool { return hits[i].Status.BuildNumber > hits[j].Status.BuildNumber })
		if len(hits) == 0 {
			return nil, false
		}
		return hits[0], true
	}
}

// where names the claim holder running an attempt, for its log.
func (c *Controllers) where() string {
	if c.Claims == nil {
		return ""
	}
	return " on " + c.Claims.Holder
}
