package release

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/controller"
	"github.com/kilnbuild/kiln/internal/registry"
)

// autoRelease creates a Release for each auto-release plan of a Snapshot
// that passed its tests, unless a Snapshot as new or newer was already
// released (or is being released) through that plan.
func (c *Controller) autoRelease(ctx context.Context, s *v1alpha1.Snapshot) (controller.Result, error) {
	if st, _, _ := testsState(s); st != "True" {
		return controller.Result{}, nil
	}
	plans, err := registry.List[v1alpha1.ReleasePlan](ctx, c.reg, registry.ListOptions{Namespace: s.Namespace, FieldSelector: "spec.application=" + s.Spec.Application})
	if err != nil {
		return controller.Result{}, err
	}
	for _, plan := range plans {
		if err := c.autoReleaseThrough(ctx, s, plan); err != nil {
			return controller.Result{}, err
		}
	}
	return controller.Result{}, nil
}

func (c *Controller) autoReleaseThrough(ctx context.Context, s *v1alpha1.Snapshot, plan *v1alpha1.ReleasePlan) error {
	name := AutoName(s.Name, plan.Name)
	if _, err := c.reg.Get(ctx, releaseKind, s.Namespace, name, registry.GetOptions{}); err == nil || !apierrors.IsNotFound(err) {
		return err
	}
	seqs, err := c.releasedSequences(ctx, s.Namespace, plan.Name)
	if err != nil {
		return err
	}
	ok, why := ShouldAutoRelease(s, plan, seqs)
	if !ok {
		c.Log.Debug("no auto-release", "namespace", s.Namespace, "snapshot", s.Name, "plan", plan.Name, "why", why)
		return nil
	}
	r := &v1alpha1.Release{Spec: v1alpha1.ReleaseSpec{Snapshot: s.Name, ReleasePlan: plan.Name}}
	r.Name, r.Namespace = name, s.Namespace
	r.Labels = map[string]string{v1alpha1.LabelAutomated: "true", v1alpha1.LabelAuthor: plan.Labels[v1alpha1.LabelAuthor]}
	if _, err := c.reg.Create(ctx, releaseKind, r, registry.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("auto-releasing %s through %s: %w", s.Name, plan.Name, err)
	}
	c.Log.Info("auto-release", "namespace", s.Namespace, "snapshot", s.Name, "plan", plan.Name, "release", name)
	return nil
}

// releasedSequences are the sequence numbers of the Snapshots released or
// being released through a plan (failed Releases do not count).
func (c *Controller) releasedSequences(ctx context.Context, ns, plan string) ([]int64, error) {
	releases, err := registry.List[v1alpha1.Release](ctx, c.reg, registry.ListOptions{Namespace: ns, FieldSelector: "spec.releasePlan=" + plan, Limit: 500})
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, r := range releases {
		if r.Status.Phase == v1alpha1.ReleaseFailed {
			continue
		}
		if s, err := registry.Get[v1alpha1.Snapshot](ctx, c.reg, ns, r.Spec.Snapshot); err == nil {
			out = append(out, s.Sequence())
		}
	}
	return out, nil
}
