package trigger

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/buildgroup"
	"github.com/kilnbuild/kiln/internal/registry"
)

var (
	buildKind     = v1alpha1.MustLookup("Build")
	componentKind = v1alpha1.MustLookup("Component")
	groupKind     = v1alpha1.MustLookup("BuildGroup")
)

// creator creates Builds when a component's branch moves (polling,
// webhooks) or a component is new. Automatic builds are named after the
// component and commit, so two triggers seeing the same commit (a webhook
// and a poll) create one build.
type creator struct {
	reg   *registry.Registry
	batch *batcher
	log   *slog.Logger
	// groups pins the artifacts a component requires (nil: none).
	groups *buildgroup.Controller
	// leading reports whether this replica batches commits (nil: it does).
	leading func() bool
}

// batching reports whether commits are batched here: by the leader only,
// so that two replicas never batch the same commits into two groups.
func (t *creator) batching() bool { return t.leading == nil || t.leading() }

// newCreator returns a creator writing through reg, without batching.
func newCreator(reg *registry.Registry, groups *buildgroup.Controller, log *slog.Logger) *creator {
	return &creator{reg: reg, groups: groups, log: log}
}

// onCommit records that component ns/name's branch head is commit, and
// creates a build for it unless that commit was already seen. by names the
// trigger ("poll", "webhook:github").
func (t *creator) onCommit(ctx context.Context, ns, name, commit, by string) error {
	comp, err := registry.Get[v1alpha1.Component](ctx, t.reg, ns, name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if comp.Status.LastSeenCommit == commit || commit == "" {
		return nil
	}
	if t.batch == nil {
		if err := t.create(ctx, comp, commit, by); err != nil {
			return err
		}
		return t.markSeen(ctx, comp, commit)
	}
	if comp.Status.PendingCommit != commit {
		_, err := registry.UpdateStatus(ctx, t.reg, ns, name, func(cur *v1alpha1.Component) error {
			cur.Status.PendingCommit = commit
			return nil
		})
		if err != nil {
			return fmt.Errorf("recording %s/%s's new commit: %w", ns, name, err)
		}
	}
	if !t.batching() {
		return nil // the leader's first-build controller batches the pending commit
	}
	t.batch.add(ns, comp.Spec.Application, pending{name: name, commit: commit, by: by,
		newComponent: comp.Status.LastSeenCommit == "" && comp.Status.BuildCounter == 0})
	return nil
}

// AutoBuildName is the name of the automatic build of commit.
func AutoBuildName(component, commit string) string {
	c := commit
	if len(c) > 12 {
		c = c[:12]
	}
	return strings.ToLower(v1alpha1.FitName(component + "-" + c))
}

func (t *creator) create(ctx context.Context, comp *v1alpha1.Component, commit, by string) error {
	reason := v1alpha1.BuildReason{Type: v1alpha1.ReasonNewComponent, By: by,
		Message: "first build of " + comp.Name}
	if prev := comp.Status.LastSeenCommit; prev != "" || comp.Status.BuildCounter > 0 {
		reason = v1alpha1.BuildReason{Type: v1alpha1.ReasonSourceChange, By: by, PreviousCommit: prev,
			Message: fmt.Sprintf("%s moved from %s to %s", branch(comp), short(prev), short(commit))}
	}
	return t.createBuild(ctx, comp, AutoBuildName(comp.Name, commit), commit, reason, nil)
}

// createBuild creates the build name of comp at commit, pinning the
// current artifacts of what comp requires; a build of that name already
// existing is success (triggers are idempotent).
func (t *creator) createBuild(ctx context.Context, comp *v1alpha1.Component, name, commit string, reason v1alpha1.BuildReason, labels map[string]string) error {
	b := &v1alpha1.Build{Spec: v1alpha1.BuildSpec{Component: comp.Name, Revision: commit, Reason: reason}}
	if t.groups != nil {
		inputs, err := t.groups.Inputs(ctx, comp.Namespace, comp.Name)
		if err != nil {
			return fmt.Errorf("build of %s/%s at %s: %w", comp.Namespace, comp.Name, short(commit), err)
		}
		b.Spec.Inputs = inputs
	}
	b.Name, b.Namespace = name, comp.Namespace
	b.Labels = map[string]string{v1alpha1.LabelComponent: v1alpha1.LabelValue(comp.Name), v1alpha1.LabelApplication: v1alpha1.LabelValue(comp.Spec.Application)}
	for k, v := range labels {
		b.Labels[k] = v
	}
	_, err := t.reg.Create(ctx, buildKind, b, registry.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// PullRequest is a pull request's head, to build.
type PullRequest struct {
	// Number is the pull request's (GitLab: merge request's) number.
	Number int
	// Commit is the head commit, already fetched.
	Commit string
	// HeadRef is the source branch, for the build's reason.
	HeadRef string
}

// onPullRequest creates the build of a pull request's head commit of
// component ns/name, labelled as a pull request build, unless one exists:
// a redelivery, or another event for the same head, creates nothing. It
// leaves the component's status alone (the branch did not move). by names
// the trigger ("webhook:github").
func (t *creator) onPullRequest(ctx context.Context, ns, name string, pr PullRequest, by string) error {
	comp, err := registry.Get[v1alpha1.Component](ctx, t.reg, ns, name)
	if apierrors.IsNotFound(err) || pr.Commit == "" {
		return nil
	}
	if err != nil {
		return err
	}
	reason := v1alpha1.BuildReason{Type: v1alpha1.ReasonPullRequest, By: by,
		Message: fmt.Sprintf("pull request #%d: %s at %s", pr.Number, pr.HeadRef, short(pr.Commit))}
	return t.createBuild(ctx, comp, PullRequestBuildName(comp.Name, pr.Number, pr.Commit), pr.Commit, reason,
		PullRequestLabels(pr.Number))
}

// PullRequestLabels mark a build as pull request number's.
func PullRequestLabels(number int) map[string]string {
	return map[string]string{v1alpha1.LabelEventType: v1alpha1.EventPullRequest,
		v1alpha1.LabelPullRequest: strconv.Itoa(number)}
}

// PullRequestBuildName is the name of the build of pull request number at
// commit: apart from the branch's builds, so building a commit for a pull
// request never stands in for building it on the branch.
func PullRequestBuildName(component string, number int, commit string) string {
	return AutoBuildName(component+"-pr"+strconv.Itoa(number), commit)
}

func (t *creator) markSeen(ctx context.Context, comp *v1alpha1.Component, commit string) error {
	_, err := registry.UpdateStatus(ctx, t.reg, comp.Namespace, comp.Name, func(cur *v1alpha1.Component) error {
		cur.Status.LastSeenCommit = commit
		if cur.Status.PendingCommit == commit {
			cur.Status.PendingCommit = ""
		}
		return nil
	})
	return err
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
