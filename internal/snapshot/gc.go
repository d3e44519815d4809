package snapshot

import (
	"context"
	"sort"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/controller"
	"github.com/kilnbuild/kiln/internal/registry"
)

// Collectable picks the Snapshots to delete: never a pinned one, one a
// Release refers to, one whose tests are still running, one younger than
// minAge, or one of the keep newest. It is pure.
func Collectable(snaps []*v1alpha1.Snapshot, released map[string]bool, keep int, minAge time.Duration, now time.Time) []string {
	sorted := append([]*v1alpha1.Snapshot(nil), snaps...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Sequence() > sorted[j].Sequence() })
	var out []string
	for i, s := range sorted {
		if i < keep || s.Labels[v1alpha1.LabelPinned] == "true" || released[s.Name] ||
			now.Sub(s.CreationTimestamp.Time) < minAge || testsActive(s) {
			continue
		}
		out = append(out, s.Name)
	}
	return out
}

func testsActive(s *v1alpha1.Snapshot) bool {
	for _, t := range s.Status.Tests {
		if t.State != v1alpha1.TestFinished {
			return true
		}
	}
	return false
}

// collect garbage-collects one Application's Snapshots (req.Name is the
// Application).
func (c *Controller) collect(ctx context.Context, req controller.Request) (controller.Result, error) {
	snaps, err := c.snapshots(ctx, req.Namespace, req.Name)
	if err != nil || len(snaps) <= c.Keep {
		return controller.Result{}, err
	}
	released, err := c.referenced(ctx, req.Namespace)
	if err != nil {
		return controller.Result{}, err
	}
	for _, name := range Collectable(snaps, released, c.Keep, c.MinAge, c.Now()) {
		if _, _, err := c.reg.Delete(ctx, snapshotKind, req.Namespace, name, registry.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return controller.Result{}, err
		}
		c.Log.Info("snapshot collected", "namespace", req.Namespace, "name", name)
	}
	return controller.Result{}, nil
}

func (c *Controller) snapshots(ctx context.Context, ns, app string) ([]*v1alpha1.Snapshot, error) {
	return registry.List[v1alpha1.Snapshot](ctx, c.reg, registry.ListOptions{Namespace: ns, FieldSelector: "spec.application=" + app, Limit: 500})
}

// referenced is the set of Snapshots some Release of the namespace names.
func (c *Controller) referenced(ctx context.Context, ns string) (map[string]bool, error) {
	releases, err := registry.List[v1alpha1.Release](ctx, c.reg, registry.ListOptions{Namespace: ns, Limit: 500})
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, r := range releases {
		out[r.Spec.Snapshot] = true
	}
	return out, nil
}
