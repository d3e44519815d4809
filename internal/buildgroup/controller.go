package buildgroup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/capability"
	"github.com/kilnbuild/kiln/internal/controller"
	"github.com/kilnbuild/kiln/internal/git"
	"github.com/kilnbuild/kiln/internal/oci"
	"github.com/kilnbuild/kiln/internal/registry"
	"github.com/kilnbuild/kiln/internal/store"
)

var groupKind, buildKind, componentKind = v1alpha1.MustLookup("BuildGroup"), v1alpha1.MustLookup("Build"), v1alpha1.MustLookup("Component")

// Controller plans groups and applies Advance's decisions: it creates the
// member builds, cancels them, and records progress.
type Controller struct {
	reg *registry.Registry
	// Git reads sources of components that were never built, to detect
	// their capabilities before planning.
	Git      *git.Cache
	CheckURL func(string) error
	WorkDir  string
	Log      *slog.Logger
	Now      func() time.Time
}

// Register adds the group controller: it reacts to groups and to their
// members' builds.
func (c *Controller) Register(m *controller.Manager) {
	c.reg = m.Registry()
	if c.Now == nil {
		c.Now = time.Now
	}
	m.Register("buildgroup", controller.For(c.reg, c.reconcile), controller.Options{Workers: 2},
		controller.Source{Kind: "BuildGroup"},
		controller.Source{Kind: "Build", Map: groupOfBuild})
	m.Register("buildgroup-dependants", controller.For(c.reg, c.dependants), controller.Options{Workers: 1},
		controller.Source{Kind: "Build", Map: finishedOutsideGroup})
}

// finishedOutsideGroup maps succeeded builds that belong to no group and
// are not a pull request's.
func finishedOutsideGroup(ev store.Event) []controller.Request {
	f := ev.Object.Fields
	if f["spec.group"] != "" || f["status.phase"] != v1alpha1.BuildSucceeded ||
		ev.Object.Labels[v1alpha1.LabelEventType] == v1alpha1.EventPullRequest {
		return nil
	}
	return []controller.Request{{Kind: "Build", Namespace: ev.Object.Namespace, Name: ev.Object.Name}}
}

// recentBuild bounds which finished builds still trigger their dependants
// (so a restart does not replay history).
const recentBuild = time.Hour

// dependants starts a group rebuilding what depends on a component whose
// build, outside any group, produced a new output. A pull request's build
// does not: its output is not the component's.
func (c *Controller) dependants(ctx context.Context, b *v1alpha1.Build) (controller.Result, error) {
	st := b.Status
	if b.Spec.Group != "" || b.PullRequest() || st.Phase != v1alpha1.BuildSucceeded || st.Unchanged || st.Artifact == nil || st.CachedFrom != "" ||
		st.CompletionTime == nil || c.Now().Sub(st.CompletionTime.Time) > recentBuild || b.Annotations[v1alpha1.AnnotationDependants] != "" {
		return controller.Result{}, nil
	}
	comps, err := c.components(ctx, b.Namespace, "")
	if err != nil {
		return controller.Result{}, err
	}
	res, err := GraphOf(everBuilt(comps, []string{b.Spec.Component}), nil)
	if err != nil || res.Graph[b.Spec.Component] == nil {
		return controller.Result{}, err
	}
	old := c.dropUpToDate(ctx, b.Namespace, res.Graph, comps, b.Spec.Component, st.Artifact.Digest)
	members, err := res.Graph.Members([]string{b.Spec.Component})
	if err != nil {
		return controller.Result{}, err
	}
	if len(members) < 2 {
		return controller.Result{}, c.markDependants(ctx, b, "-")
	}
	msg := fmt.Sprintf("%s built a new output (%s -> %s): rebuilding what depends on it", b.Spec.Component, short(old), short(st.Artifact.Digest))
	g := &v1alpha1.BuildGroup{Spec: v1alpha1.BuildGroupSpec{Components: []string{b.Spec.Component}, FromBuild: b.Name,
		Reason: v1alpha1.BuildReason{Type: v1alpha1.ReasonDependencyChange, By: "kiln", Component: b.Spec.Component, Build: b.Name,
			OldDigest: old, NewDigest: st.Artifact.Digest, Message: msg}}}
	g.Name, g.Namespace = dependantsGroupName(b.Name), b.Namespace
	g.Labels = map[string]string{v1alpha1.LabelComponent: v1alpha1.LabelValue(b.Spec.Component)}
	if _, err := c.reg.Create(ctx, groupKind, g, registry.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return controller.Result{}, fmt.Errorf("creating the dependants group of %s: %w", b.Name, err)
	}
	return controller.Result{}, c.markDependants(ctx, b, g.Name)
}

// markDependants records on b what its new output caused (a group's name,
// or "-"): dependants are decided once per build, and a restart does not
// decide again with a graph that has moved on (replaying a build whose
// dependants were all rebuilt since against a newer output). A conflict
// is retried by the controller from a fresh copy.
func (c *Controller) markDependants(ctx context.Context, b *v1alpha1.Build, value string) error {
	ann := maps.Clone(b.Annotations)
	if ann == nil {
		ann = map[string]string{}
	}
	ann[v1alpha1.AnnotationDependants] = value
	b.Annotations = ann
	if _, err := c.reg.Update(ctx, buildKind, b, registry.UpdateOptions{}); err != nil {
		return fmt.Errorf("recording the dependants of %s: %w", b.Name, err)
	}
	return nil
}

// dropUpToDate removes from g the edges from comp to the dependants whose
// last build already used its artifact digest: they were built after the
// change (a restart replaying a recent build, or a dependant's own trigger
// that came first) and have nothing to catch up on. It returns the digest
// of comp the other dependants were last built against (the old output),
// if they agree on one. (Only digest counts, not comp's current artifact:
// the component's status may still name the previous output when the
// build that replaced it is seen.)
func (c *Controller) dropUpToDate(ctx context.Context, ns string, g Graph, comps []*v1alpha1.Component, comp, digest string) string {
	byName := map[string]*v1alpha1.Component{}
	for _, o := range comps {
		byName[o.Name] = o
	}
	used := map[string]string{}
	for name, n := range g {
		if slices.Contains(n.Deps, comp) && byName[name] != nil {
			used[name] = c.lastInput(ctx, ns, byName[name], comp)
		}
	}
	return pruneUpToDate(g, comp, used, digest)
}

// pruneUpToDate is dropUpToDate's decision: used maps each dependant of
// comp to the digest of comp its last build used ("" if unknown).
func pruneUpToDate(g Graph, comp string, used map[string]string, digest string) string {
	olds := map[string]bool{}
	for name, d := range used {
		if d == digest {
			g[name].Deps = slices.DeleteFunc(slices.Clone(g[name].Deps), func(s string) bool { return s == comp })
		} else if d != "" {
			olds[d] = true
		}
	}
	if len(olds) != 1 {
		return ""
	}
	for d := range olds {
		return d
	}
	return ""
}

// lastInput is the digest of dep that comp's last build was given, or ""
// when it cannot be told.
func (c *Controller) lastInput(ctx context.Context, ns string, comp *v1alpha1.Component, dep string) string {
	if comp.Status.LastBuild == "" {
		return ""
	}
	b, err := registry.Get[v1alpha1.Build](ctx, c.reg, ns, comp.Status.LastBuild)
	if err != nil {
		return ""
	}
	for _, in := range b.Spec.Inputs {
		if in.Component == dep {
			return in.Digest
		}
	}
	return ""
}

// everBuilt drops the components that never had a build, except keep:
// a dependants group rebuilds what was built against an older output of
// its component, and a component that never had a build gets its first
// one from its own trigger (its creation or commit), which takes the new
// output. Without this, a component created just after its dependency's
// build finished was built by that build's dependants group, with a
// dependency change as its reason, before its own first build.
func everBuilt(comps []*v1alpha1.Component, keep []string) []*v1alpha1.Component {
	out := make([]*v1alpha1.Component, 0, len(comps))
	for _, comp := range comps {
		if comp.Status.BuildCounter > 0 || comp.Status.LastBuild != "" || slices.Contains(keep, comp.Name) {
			out = append(out, comp)
		}
	}
	return out
}

func dependantsGroupName(build string) string {
	return v1alpha1.FitName(build + "-deps")
}

// groupOfBuild maps a member build's events to its group.
func groupOfBuild(ev store.Event) []controller.Request {
	if g := ev.Object.Fields["spec.group"]; g != "" {
		return []controller.Request{{Kind: "BuildGroup", Namespace: ev.Object.Namespace, Name: g}}
	}
	return nil
}

func (c *Controller) reconcile(ctx context.Context, g *v1alpha1.BuildGroup) (controller.Result, error) {
	if g.Finished() && g.Spec.Retry <= g.Status.Retried {
		return controller.Result{}, nil
	}
	if g.Status.Phase == "" {
		return controller.Result{}, c.plan(ctx, g)
	}
	return c.advance(ctx, g)
}

// plan computes the members and writes them; the next reconcile starts
// builds.
func (c *Controller) plan(ctx context.Context, g *v1alpha1.BuildGroup) error {
	comps, err := c.components(ctx, g.Namespace, g.Spec.Application)
	if err != nil {
		return err
	}
	byName := map[string]*v1alpha1.Component{}
	for _, comp := range comps {
		if comp.Status.Capabilities == nil {
			c.scan(ctx, comp)
		}
		byName[comp.Name] = comp
	}
	members, cycles, err := c.planMembers(ctx, g, comps)
	if err != nil {
		return c.fail(ctx, g, err.Error())
	}
	// Pin every member to its branch head, and plan with the capabilities
	// of that exact commit: if a member's provides/requires moved, plan
	// again (once) with the new ones.
	heads := c.heads(ctx, byName, memberNames(members))
	if c.refresh(ctx, byName, heads) {
		if members, cycles, err = c.planMembers(ctx, g, comps); err != nil {
			return c.fail(ctx, g, err.Error())
		}
		for name, commit := range c.heads(ctx, byName, missingHeads(members, heads)) {
			heads[name] = commit
		}
	}
	for i := range members {
		members[i].PreviousDigest = byName[members[i].Component].Status.LatestArtifact
		if g.Spec.FromBuild != "" && slices.Contains(g.Spec.Components, members[i].Component) {
			// The build that started the group already changed it: the
			// old output is the one its dependants were built against.
			members[i].PreviousDigest = g.Spec.Reason.OldDigest
		}
		members[i].Revision = heads[members[i].Component]
	}
	now := metav1.NewTime(c.Now())
	g.Status = v1alpha1.BuildGroupStatus{Phase: v1alpha1.GroupRunning, Members: members, Cycles: cycles,
		Total: len(members), StartTime: &now, Retried: g.Spec.Retry, ObservedGeneration: g.Generation}
	if err := c.adoptFromBuild(ctx, g); err != nil {
		return c.fail(ctx, g, err.Error())
	}
	c.Log.Info("planned build group", "group", g.Namespace+"/"+g.Name, "members", len(members), "cycles", len(cycles))
	return c.write(ctx, g)
}

// planMembers computes the members and cycles from the components'
// current capabilities.
func (c *Controller) planMembers(ctx context.Context, g *v1alpha1.BuildGroup, comps []*v1alpha1.Component) ([]v1alpha1.GroupMember, []v1alpha1.GroupCycle, error) {
	if g.Spec.FromBuild != "" {
		comps = everBuilt(comps, g.Spec.Components)
	}
	res, err := GraphOf(comps, Expected(comps, c.durations(ctx, g.Namespace, comps)))
	if err != nil {
		return nil, nil, err
	}
	if g.Spec.FromBuild != "" && g.Spec.Reason.NewDigest != "" {
		for _, comp := range g.Spec.Components {
			c.dropUpToDate(ctx, g.Namespace, res.Graph, comps, comp, g.Spec.Reason.NewDigest)
		}
	}
	return Plan(res.Graph, g.Spec.Components)
}

func memberNames(ms []v1alpha1.GroupMember) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Component
	}
	return out
}

func missingHeads(ms []v1alpha1.GroupMember, heads map[string]string) []string {
	var out []string
	for _, m := range ms {
		if _, ok := heads[m.Component]; !ok {
			out = append(out, m.Component)
		}
	}
	return out
}

// adoptFromBuild takes spec.fromBuild as the group's build of its
// component.
func (c *Controller) adoptFromBuild(ctx context.Context, g *v1alpha1.BuildGroup) error {
	if g.Spec.FromBuild == "" {
		return nil
	}
	b, err := registry.Get[v1alpha1.Build](ctx, c.reg, g.Namespace, g.Spec.FromBuild)
	if err != nil {
		return fmt.Errorf("spec.fromBuild: %w", err)
	}
	for i := range g.Status.Members {
		if m := &g.Status.Members[i]; m.Component == b.Spec.Component {
			m.State, m.Build, m.Builds = v1alpha1.MemberBuilding, b.Name, []string{b.Name}
			if m.Cycle > 0 {
				m.Pass = 1
			}
			return nil
		}
	}
	return fmt.Errorf("spec.fromBuild %s builds %s, which is not a member", b.Name, b.Spec.Component)
}

func (c *Controller) fail(ctx context.Context, g *v1alpha1.BuildGroup, msg string) error {
	now := metav1.NewTime(c.Now())
	g.Status.Phase, g.Status.Message, g.Status.CompletionTime = v1alpha1.GroupFailed, msg, &now
	return c.write(ctx, g)
}

func (c *Controller) write(ctx context.Context, g *v1alpha1.BuildGroup) error {
	_, err := registry.WriteStatus(ctx, c.reg, g)
	return err
}

// advance observes the members' builds, decides, records, then creates
// the builds it decided on (deterministic names make this idempotent).
func (c *Controller) advance(ctx context.Context, g *v1alpha1.BuildGroup) (controller.Result, error) {
	if g.Spec.Retry > g.Status.Retried {
		Retry(&g.Status)
		g.Status.Retried, g.Status.CompletionTime = g.Spec.Retry, nil
	}
	w, waiting, err := c.world(ctx, g)
	if err != nil {
		return controller.Result{}, err
	}
	Advance(g.Name, &g.Status, w)
	if g.Finished() && g.Status.CompletionTime == nil {
		now := metav1.NewTime(c.Now())
		g.Status.CompletionTime = &now
	}
	g.Status.ObservedGeneration = g.Generation
	if err := c.write(ctx, g); err != nil {
		return controller.Result{}, err
	}
	if err := c.apply(ctx, g, w); err != nil {
		return controller.Result{}, err
	}
	if waiting {
		return controller.Result{RequeueAfter: 2 * time.Second}, nil
	}
	return controller.Result{}, nil
}

// apply creates missing builds of building members and cancels builds of
// a cancelled group.
func (c *Controller) apply(ctx context.Context, g *v1alpha1.BuildGroup, w World) error {
	for _, m := range g.Status.Members {
		if m.State != v1alpha1.MemberBuilding {
			continue
		}
		if _, exists := w.Builds[m.Build]; !exists {
			if err := c.createBuild(ctx, g, m, w); err != nil {
				return err
			}
		} else if g.Spec.Cancel {
			_, err := c.reg.Patch(ctx, buildKind, g.Namespace, m.Build, "application/merge-patch+json",
				[]byte(`{"spec":{"cancel":true}}`), registry.UpdateOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
	}
	return nil
}

func (c *Controller) createBuild(ctx context.Context, g *v1alpha1.BuildGroup, m v1alpha1.GroupMember, w World) error {
	s := Decided(g.Name, &g.Status, m, w)
	reason := s.Reason
	if !ownReason(m) {
		reason = g.Spec.Reason
	}
	if reason.Type == "" {
		reason.Type = v1alpha1.ReasonManual
	}
	b := &v1alpha1.Build{Spec: v1alpha1.BuildSpec{Component: m.Component, Group: g.Name, Inputs: s.Inputs, Params: s.Params,
		Reason: reason, NoCache: g.Spec.NoCache, Revision: m.Revision}}
	b.Name, b.Namespace = m.Build, g.Namespace
	b.Labels = map[string]string{v1alpha1.LabelComponent: v1alpha1.LabelValue(m.Component), LabelGroup: v1alpha1.LabelValue(g.Name)}
	_, err := c.reg.Create(ctx, buildKind, b, registry.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("creating build %s of group %s: %w", m.Build, g.Name, err)
	}
	return nil
}

// LabelGroup marks a group's builds.
const LabelGroup = v1alpha1.LabelGroup

func indexOf(ms []v1alpha1.GroupMember) map[string]int {
	idx := make(map[string]int, len(ms))
	for i, m := range ms {
		idx[m.Component] = i
	}
	return idx
}

// world reads the members' builds, every component's current artifact and
// the members' dependencies. waiting is set when a member waits for a
// dependency built outside the group (no event will wake the group).
func (c *Controller) world(ctx context.Context, g *v1alpha1.BuildGroup) (World, bool, error) {
	w := World{Builds: map[string]BuildView{}, Current: map[string]Artifact{}, Deps: map[string][]string{}, Cancel: g.Spec.Cancel}
	comps, err := c.components(ctx, g.Namespace, g.Spec.Application)
	if err != nil {
		return w, false, err
	}
	res, err := GraphOf(comps, nil)
	if err != nil {
		return w, false, err
	}
	w.Pending, w.Bootstrap = map[string]bool{}, map[string][]v1alpha1.Param{}
	for _, comp := range comps {
		if a, ok := currentArtifact(comp); ok {
			w.Current[comp.Name] = a
		} else if c.firstBuildPending(ctx, g, comp) {
			w.Pending[comp.Name] = true
		}
		w.Deps[comp.Name] = res.Graph[comp.Name].Deps
		if b := comp.Spec.Build; b != nil && b.Bootstrap != nil {
			w.Bootstrap[comp.Name] = b.Bootstrap.Params
		}
	}
	for _, m := range g.Status.Members {
		if m.Build == "" {
			continue
		}
		b, err := registry.Get[v1alpha1.Build](ctx, c.reg, g.Namespace, m.Build)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return w, false, err
		}
		w.Builds[m.Build] = viewOf(b)
	}
	return w, len(w.Pending) > 0, nil
}

// maxOutsideWait bounds how long members wait for a dependency's first
// build outside the group before they are blocked.
const maxOutsideWait = 10 * time.Minute

// firstBuildPending reports whether a component without an artifact is
// about to get one: its first build is queued or running (or not created
// yet), and the group has not waited too long.
func (c *Controller) firstBuildPending(ctx context.Context, g *v1alpha1.BuildGroup, comp *v1alpha1.Component) bool {
	if g.Status.StartTime != nil && c.Now().Sub(g.Status.StartTime.Time) > maxOutsideWait {
		return false
	}
	if comp.Status.LastBuild == "" {
		return comp.Status.BuildCounter == 0
	}
	b, err := registry.Get[v1alpha1.Build](ctx, c.reg, comp.Namespace, comp.Status.LastBuild)
	return err == nil && !b.Finished()
}

func viewOf(b *v1alpha1.Build) BuildView {
	v := BuildView{Phase: b.Status.Phase, Unchanged: b.Status.Unchanged, Message: b.Status.Message, Unresolvable: b.Unresolvable()}
	if a := b.Status.Artifact; a != nil {
		v.Artifact = Artifact{Repository: a.Repository, Digest: a.Digest}
	}
	return v
}

// currentArtifact is the component's latest artifact, else its bootstrap.
func currentArtifact(c *v1alpha1.Component) (Artifact, bool) {
	ref := c.Status.LatestArtifactRef
	if ref == "" && c.Spec.Build != nil {
		ref = c.Spec.Build.BootstrapArtifact
	}
	repo, digest, ok := oci.SplitDigest(ref)
	if !ok {
		return Artifact{}, false
	}
	return Artifact{Repository: repo, Digest: digest}, true
}

// components lists the namespace's components, or one application's.
func (c *Controller) components(ctx context.Context, ns, app string) ([]*v1alpha1.Component, error) {
	opts := registry.ListOptions{Namespace: ns}
	if app != "" {
		opts.FieldSelector = "spec.application=" + app
	}
	out, err := registry.List[v1alpha1.Component](ctx, c.reg, opts)
	if err != nil {
		return nil, fmt.Errorf("components of %s: %w", ns, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// durations are each component's last successful build duration.
func (c *Controller) durations(ctx context.Context, ns string, comps []*v1alpha1.Component) map[string]float64 {
	out := map[string]float64{}
	for _, comp := range comps {
		if comp.Status.LastBuild == "" {
			continue
		}
		b, err := registry.Get[v1alpha1.Build](ctx, c.reg, ns, comp.Status.LastBuild)
		if err != nil {
			continue
		}
		if b.Status.StartTime != nil && b.Status.CompletionTime != nil {
			out[comp.Name] = b.Status.CompletionTime.Sub(b.Status.StartTime.Time).Seconds()
		}
	}
	return out
}

// scan detects a never-built component's capabilities at its branch head
// and records them, so the first plan knows its edges. Failures are logged:
// the component then counts as having none.
func (c *Controller) scan(ctx context.Context, comp *v1alpha1.Component) {
	g := comp.Spec.Source.Git
	if g == nil || c.Git == nil || (c.CheckURL != nil && c.CheckURL(g.URL) != nil) {
		return
	}
	caps, err := c.detect(ctx, comp, g)
	if err != nil {
		c.Log.Warn("detecting capabilities", "component", comp.Namespace+"/"+comp.Name, "err", err)
		return
	}
	comp.Status.Capabilities = caps
	_, err = registry.UpdateStatus(ctx, c.reg, comp.Namespace, comp.Name, func(cur *v1alpha1.Component) error {
		if cur.Status.Capabilities == nil {
			cur.Status.Capabilities = caps
		}
		return nil
	})
	if err != nil {
		c.Log.Warn("recording capabilities", "component", comp.Namespace+"/"+comp.Name, "err", err)
	}
}

func (c *Controller) detect(ctx context.Context, comp *v1alpha1.Component, g *v1alpha1.GitSource) (*v1alpha1.Capabilities, error) {
	commit, err := c.Git.Fetch(ctx, g.URL, g.Revision)
	if err != nil {
		return nil, err
	}
	return c.detectAt(ctx, comp, g, commit)
}

// detectAt reads a component's capabilities at one commit.
func (c *Controller) detectAt(ctx context.Context, comp *v1alpha1.Component, g *v1alpha1.GitSource, commit string) (*v1alpha1.Capabilities, error) {
	if err := os.MkdirAll(c.WorkDir, 0o700); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(c.WorkDir, "scan-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if _, err := c.Git.Checkout(ctx, g.URL, commit, dir+"/src", g.Context); err != nil {
		return nil, err
	}
	set, err := capability.DetectWith(dir+"/src", capability.ComponentOptions(comp))
	if err != nil {
		return nil, err
	}
	return set.Status(commit), nil
}

// ErrWaiting says a dependency has no artifact yet but is being built.
var ErrWaiting = errors.New("waiting for a dependency's first build")

// Inputs pins the current artifacts of everything comp requires, for a
// build outside any group (a source change). It returns ErrWaiting (wrapped)
// when a dependency's first build has not finished yet.
func (c *Controller) Inputs(ctx context.Context, ns, comp string) ([]v1alpha1.BuildInput, error) {
	comps, err := c.components(ctx, ns, "")
	if err != nil {
		return nil, err
	}
	for _, o := range comps {
		if o.Name == comp && o.Status.Capabilities == nil {
			c.scan(ctx, o) // its first build: learn what it requires first
		}
	}
	res, err := GraphOf(comps, nil)
	if err != nil {
		return nil, err
	}
	node := res.Graph[comp]
	if node == nil {
		return nil, nil
	}
	if len(node.Missing) > 0 {
		return nil, fmt.Errorf("component %s is unresolvable: nothing provides %s", comp, strings.Join(node.Missing, ", "))
	}
	byName := map[string]*v1alpha1.Component{}
	for _, o := range comps {
		byName[o.Name] = o
	}
	g := &v1alpha1.BuildGroup{}
	var out []v1alpha1.BuildInput
	for _, d := range node.Deps {
		a, ok := currentArtifact(byName[d])
		if !ok {
			if c.firstBuildPending(ctx, g, byName[d]) {
				return nil, fmt.Errorf("%s needs %s: %w", comp, d, ErrWaiting)
			}
			return nil, fmt.Errorf("%s needs %s, which has no artifact (its last build did not succeed)", comp, d)
		}
		out = append(out, v1alpha1.BuildInput{Component: d, Repository: a.Repository, Digest: a.Digest})
	}
	return out, nil
}
