package build

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/registry"
)

// Trigger creates Builds when a component's branch moves (polling,
// webhooks) or a component is new. Automatic builds are named after the
// component and commit, so two triggers seeing the same commit (a webhook
// and a poll) create one build.
type Trigger struct {
	reg *registry.Registry
	// Inputs pins the artifacts a component requires (nil: none).
	Inputs func(ctx context.Context, ns, component string) ([]v1alpha1.BuildInput, error)
}

// NewTrigger returns a Trigger writing through reg.
func NewTrigger(reg *registry.Registry) *Trigger { return &Trigger{reg: reg} }

// OnCommit records that component ns/name's branch head is commit, and
// creates a build for it unless that commit was already seen. by names the
// trigger ("poll", "webhook:github").
func (t *Trigger) OnCommit(ctx context.Context, ns, name, commit, by string) error {
	obj, err := t.reg.Get(ctx, componentKind, ns, name, registry.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	comp := obj.(*v1alpha1.Component)
	if comp.Status.LastSeenCommit == commit || commit == "" {
		return nil
	}
	if err := t.create(ctx, comp, commit, by); err != nil {
		return err
	}
	return t.markSeen(ctx, comp, commit)
}

// AutoBuildName is the name of the automatic build of commit.
func AutoBuildName(component, commit string) string {
	c := commit
	if len(c) > 12 {
		c = c[:12]
	}
	name := component + "-" + c
	if len(name) > 253 {
		name = name[len(name)-253:]
	}
	return strings.ToLower(name)
}

func (t *Trigger) create(ctx context.Context, comp *v1alpha1.Component, commit, by string) error {
	reason := v1alpha1.BuildReason{Type: v1alpha1.ReasonNewComponent, By: by,
		Message: "first build of " + comp.Name}
	if prev := comp.Status.LastSeenCommit; prev != "" || comp.Status.BuildCounter > 0 {
		reason = v1alpha1.BuildReason{Type: v1alpha1.ReasonSourceChange, By: by, PreviousCommit: prev,
			Message: fmt.Sprintf("%s moved from %s to %s", branch(comp), short(prev), short(commit))}
	}
	b := &v1alpha1.Build{Spec: v1alpha1.BuildSpec{Component: comp.Name, Revision: commit, Reason: reason}}
	if t.Inputs != nil {
		inputs, err := t.Inputs(ctx, comp.Namespace, comp.Name)
		if err != nil {
			return fmt.Errorf("build of %s/%s at %s: %w", comp.Namespace, comp.Name, short(commit), err)
		}
		b.Spec.Inputs = inputs
	}
	b.Name, b.Namespace = AutoBuildName(comp.Name, commit), comp.Namespace
	b.Labels = map[string]string{v1alpha1.LabelComponent: comp.Name, v1alpha1.LabelApplication: comp.Spec.Application}
	_, err := t.reg.Create(ctx, buildKind, b, registry.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

func (t *Trigger) markSeen(ctx context.Context, comp *v1alpha1.Component, commit string) error {
	return UpdateComponentStatus(ctx, t.reg, comp.Namespace, comp.Name, func(cur *v1alpha1.Component) {
		cur.Status.LastSeenCommit = commit
	})
}

func branch(c *v1alpha1.Component) string {
	if g := c.Spec.Source.Git; g != nil {
		return g.Revision
	}
	return ""
}

func short(c string) string {
	if c == "" {
		return "(nothing)"
	}
	if len(c) > 7 {
		return c[:7]
	}
	return c
}
