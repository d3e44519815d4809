package builder

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/controller"
	"github.com/kilnbuild/kiln/internal/registry"
)

// AnnotationMaxConcurrentBuilds on a Namespace lowers how many of its builds
// run at once (a positive integer). It can only tighten the server's
// per-namespace limit, never raise it: namespace admins may set it.
const AnnotationMaxConcurrentBuilds = "kiln.dev/max-concurrent-builds"

// admission holds the fair queue between the build-admission controller,
// which feeds it from the store, and the build-executor controller, which
// runs only the builds it admits.
type admission struct {
	mu       sync.Mutex
	q        *fairQueue
	defLimit int
	known    map[string]bool // namespaces whose annotation was read
	admit    *controller.Controller
	exec     *controller.Controller
}

func newAdmission(workers, perNamespace int) *admission {
	return &admission{q: newFairQueue(workers, perNamespace), defLimit: max(perNamespace, 0), known: map[string]bool{}}
}

// update applies fn to the queue, then hands every build that may now
// start to the executor.
func (a *admission) update(fn func(q *fairQueue)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	fn(a.q)
	for {
		key, ok := a.q.Next()
		if !ok {
			return
		}
		a.exec.Enqueue(key)
	}
}

func (a *admission) admitted(key controller.Request) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.q.Admitted(key)
}

// done frees the slot of an attempt that ended, and has the build looked at
// again after delay (an attempt that did not start leaves it Queued).
func (a *admission) done(key controller.Request, delay time.Duration) {
	a.update(func(q *fairQueue) { q.Done(key) })
	a.admit.EnqueueAfter(key, delay)
}

func (a *admission) knows(ns string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.known[ns]
}

// remove takes a deleted build out of the fair queue.
func (a *admission) remove(req controller.Request) {
	a.update(func(q *fairQueue) { q.Remove(req) })
}

// namespaceLimit reads the limit annotation of the Namespace req names.
func (c *Controllers) namespaceLimit(ctx context.Context, req controller.Request) (controller.Result, error) {
	return controller.Result{}, c.readLimit(ctx, req.Name)
}

// admitBuild keeps the fair queue in line with the store: queued builds
// wait, running ones count, finished ones leave.
func (c *Controllers) admitBuild(ctx context.Context, b *v1alpha1.Build) (controller.Result, error) {
	req := requestOf(b)
	if b.Spec.Cancel {
		c.stopRunning(req) // the attempt writes the final status
	}
	switch {
	case b.Status.Phase == v1alpha1.BuildRunning && (c.Claims == nil || c.isRunning(req)):
		// With claims, each replica counts only what it runs itself: the
		// limits are per replica.
		c.adm.update(func(q *fairQueue) { q.Running(req) })
	case b.Status.Phase == v1alpha1.BuildQueued && !b.Spec.Cancel:
		return controller.Result{}, c.enqueue(ctx, b)
	default: // not numbered yet, cancelled or finished
		c.adm.update(func(q *fairQueue) { q.Remove(req) })
	}
	return controller.Result{}, nil
}

// enqueue puts a queued build in line, with its namespace's limit known.
func (c *Controllers) enqueue(ctx context.Context, b *v1alpha1.Build) error {
	if !c.adm.knows(b.Namespace) {
		if err := c.readLimit(ctx, b.Namespace); err != nil {
			return err
		}
	}
	w := waitingBuild{Key: requestOf(b), Priority: c.priority(ctx, b)}
	if b.Status.QueuedTime != nil {
		w.Queued = b.Status.QueuedTime.Time
	}
	c.adm.update(func(q *fairQueue) { q.Push(w) })
	return nil
}

// readLimit reads namespace ns's limit annotation.
func (c *Controllers) readLimit(ctx context.Context, ns string) error {
	obj, err := registry.Get[v1alpha1.Namespace](ctx, c.reg, "", ns)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("reading namespace %s: %w", ns, err)
	}
	n := 0
	if err == nil {
		var perr error
		if n, perr = namespaceLimit(obj, c.adm.defLimit); perr != nil {
			c.Log.Warn("ignoring a namespace's build limit", "namespace", ns, "err", perr)
		}
	}
	c.adm.update(func(q *fairQueue) {
		q.SetLimit(ns, n)
		c.adm.known[ns] = err == nil
	})
	return nil
}

// namespaceLimit is the limit of ns given the server's default (0: none):
// the annotation's value when it is lower. 0 means the default applies.
func namespaceLimit(ns *v1alpha1.Namespace, def int) (int, error) {
	v, ok := ns.Annotations[AnnotationMaxConcurrentBuilds]
	if !ok {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("annotation %s=%q: want a positive integer, e.g. \"2\"", AnnotationMaxConcurrentBuilds, v)
	}
	if def > 0 && n > def {
		return 0, nil
	}
	return n, nil
}

// priority is the build's priority within its namespace: its BuildGroup's
// member priority (the longest chain of work waiting for it), else 0.
func (c *Controllers) priority(ctx context.Context, b *v1alpha1.Build) float64 {
	if b.Spec.Group == "" {
		return 0
	}
	g, err := registry.Get[v1alpha1.BuildGroup](ctx, c.reg, b.Namespace, b.Spec.Group)
	if err != nil {
		return 0
	}
	return groupPriority(g, b.Name, b.Spec.Component)
}

// groupPriority is the priority of the member that build (of component)
// belongs to. The group records a member's build name only after creating
// the build, and admission sees the build first: a build the group does
// not name yet takes its component's member's priority.
func groupPriority(g *v1alpha1.BuildGroup, build, component string) float64 {
	for _, m := range g.Status.Members {
		if m.Build == build || slices.Contains(m.Builds, build) {
			return m.Priority
		}
	}
	for _, m := range g.Status.Members {
		if m.Component == component {
			return m.Priority
		}
	}
	return 0
}
