package snapshot

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/controller"
	"github.com/kilnbuild/kiln/internal/registry"
	"github.com/kilnbuild/kiln/internal/store"
)

// Annotations the snapshot controller writes (see v1alpha1).
const (
	AnnotationSnapshot        = v1alpha1.AnnotationSnapshot
	AnnotationSnapshotOf      = v1alpha1.AnnotationSnapshotOf
	AnnotationSnapshotAttempt = v1alpha1.AnnotationSnapshotAttempt
)

// GroupDone reports whether the snapshot controller is done with the
// group's current attempt: it made the group's Snapshot, or decided none
// was needed for this very attempt (a failed attempt may be retried).
func GroupDone(g *v1alpha1.BuildGroup) bool {
	mark := g.Annotations[AnnotationSnapshot]
	if mark == "" {
		return false
	}
	attempt, _ := strconv.Atoi(g.Annotations[AnnotationSnapshotAttempt])
	return mark != "-" || attempt >= g.Status.Retried
}

var (
	snapshotKind = v1alpha1.MustLookup("Snapshot")
	buildKind    = v1alpha1.MustLookup("Build")
	groupKind    = v1alpha1.MustLookup("BuildGroup")
)

// Controller writes candidate lists and Snapshots.
type Controller struct {
	reg *registry.Registry
	Log *slog.Logger
	Now func() time.Time
	// Keep is how many unreferenced Snapshots of each Application garbage
	// collection keeps (newest first); default 50.
	Keep int
	// MinAge protects young Snapshots from collection; default 1 h.
	MinAge time.Duration
}

// Register adds the snapshot controllers to m.
func (c *Controller) Register(m *controller.Manager) {
	c.reg = m.Registry()
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Keep <= 0 {
		c.Keep = 50
	}
	if c.MinAge <= 0 {
		c.MinAge = time.Hour
	}
	// One worker: candidate-list and sequence updates of an Application
	// are serialised (conflicts would only cost retries, but order is
	// easier to reason about).
	m.Register("snapshot", controller.ByKind{
		"Build":      controller.For(c.reg, whileThere(c.forBuild)),
		"BuildGroup": controller.For(c.reg, whileThere(c.forGroup)),
		"Snapshot":   controller.For(c.reg, whileThere(c.number)),
	}, controller.Options{Workers: 1},
		controller.Source{Kind: "Build", Map: succeeded},
		controller.Source{Kind: "BuildGroup", Map: finishedGroup},
		controller.Source{Kind: "Snapshot", Map: unnumbered})
	m.Register("snapshot-gc", controller.ReconcileFunc(c.collect), controller.Options{Workers: 1, Resync: 10 * time.Minute},
		controller.Source{Kind: "Snapshot", OnList: applicationOf, Map: func(store.Event) []controller.Request { return nil }})
}

// succeeded maps builds that succeeded outside any group.
func succeeded(ev store.Event) []controller.Request {
	o := ev.Object
	if ev.Type == store.Deleted || o.Fields["status.phase"] != v1alpha1.BuildSucceeded || o.Fields["spec.group"] != "" {
		return nil
	}
	return []controller.Request{{Kind: "Build", Namespace: o.Namespace, Name: o.Name}}
}

func finishedGroup(ev store.Event) []controller.Request {
	if ev.Type == store.Deleted {
		return nil
	}
	return []controller.Request{{Kind: "BuildGroup", Namespace: ev.Object.Namespace, Name: ev.Object.Name}}
}

// unnumbered maps Snapshots users created (overrides), to number them.
func unnumbered(ev store.Event) []controller.Request {
	if ev.Type == store.Deleted || ev.Object.Labels[v1alpha1.LabelSequence] != "" {
		return nil
	}
	return []controller.Request{{Kind: "Snapshot", Namespace: ev.Object.Namespace, Name: ev.Object.Name}}
}

func applicationOf(o *store.Object) []controller.Request {
	return []controller.Request{{Kind: "Application", Namespace: o.Namespace, Name: o.Fields["spec.application"]}}
}

// whileThere adapts a step that needs other objects too (the component,
// the application): when one of them is gone, there is nothing to do.
func whileThere[P any](step func(context.Context, P) error) func(context.Context, P) (controller.Result, error) {
	return func(ctx context.Context, obj P) (controller.Result, error) {
		err := step(ctx, obj)
		if apierrors.IsNotFound(err) {
			err = nil
		}
		return controller.Result{}, err
	}
}

// forBuild makes the Snapshot of a build outside any group.
func (c *Controller) forBuild(ctx context.Context, b *v1alpha1.Build) error {
	ns := b.Namespace
	if b.Status.Phase != v1alpha1.BuildSucceeded || b.Spec.Group != "" || b.Annotations[AnnotationSnapshot] != "" || b.Status.Artifact == nil {
		return nil
	}
	comp, err := registry.Get[v1alpha1.Component](ctx, c.reg, ns, b.Spec.Component)
	if err != nil {
		return err
	}
	art, err := ArtifactOf(b, gitURL(comp))
	if err != nil {
		return err
	}
	ch := Change{Application: comp.Spec.Application, Artifacts: []Artifact{art}, Unchanged: b.Status.Unchanged,
		PullRequest: b.Labels[v1alpha1.LabelEventType] == v1alpha1.EventPullRequest, Type: v1alpha1.SnapshotTypeComponent}
	snap, err := c.apply(ctx, ns, ch, b.Name)
	if err != nil {
		return err
	}
	return c.mark(ctx, buildKind, b, snap, "")
}

// forGroup makes the Snapshot of a finished group's attempt.
func (c *Controller) forGroup(ctx context.Context, g *v1alpha1.BuildGroup) error {
	ns := g.Namespace
	if !g.Finished() || GroupDone(g) || g.Spec.Application == "" && len(g.Status.Members) == 0 {
		return nil
	}
	arts, app, err := c.groupArtifacts(ctx, g)
	if err != nil || app == "" {
		return err
	}
	ch := Change{Application: app, Artifacts: arts, Type: v1alpha1.SnapshotTypeGroup,
		Unchanged: g.Status.Phase != v1alpha1.GroupSucceeded}
	snap, err := c.apply(ctx, ns, ch, g.Name)
	if err != nil {
		return err
	}
	return c.mark(ctx, groupKind, g, snap, strconv.Itoa(g.Status.Retried))
}

// groupArtifacts are the new outputs of a group's members.
func (c *Controller) groupArtifacts(ctx context.Context, g *v1alpha1.BuildGroup) ([]Artifact, string, error) {
	var arts []Artifact
	app := g.Spec.Application
	for _, m := range g.Status.Members {
		if m.State != v1alpha1.MemberSucceeded || !m.Changed || m.Build == "" {
			continue
		}
		b, err := registry.Get[v1alpha1.Build](ctx, c.reg, g.Namespace, m.Build)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		comp, err := registry.Get[v1alpha1.Component](ctx, c.reg, g.Namespace, m.Component)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		if app == "" {
			app = comp.Spec.Application
		}
		if comp.Spec.Application != app {
			continue // a group may span applications; the snapshot is of one
		}
		if a, err := ArtifactOf(b, gitURL(comp)); err == nil {
			arts = append(arts, a)
		}
	}
	return arts, app, nil
}

// apply writes the candidate list and sequence, then the Snapshot; it
// returns the Snapshot's name, or "-" when none was needed.
func (c *Controller) apply(ctx context.Context, ns string, ch Change, origin string) (string, error) {
	app, err := registry.Get[v1alpha1.Application](ctx, c.reg, ns, ch.Application)
	if err != nil {
		return "", fmt.Errorf("application %s: %w", ch.Application, err)
	}
	d := Next(app, ch)
	if d.Candidates != nil || d.Snapshot != nil {
		if d.Candidates != nil {
			app.Status.Candidates = d.Candidates
		}
		if d.Snapshot != nil {
			app.Status.SnapshotSequence = d.Sequence
		}
		if _, err := registry.WriteStatus(ctx, c.reg, app); err != nil {
			return "", fmt.Errorf("updating the candidate list of %s: %w", app.Name, err)
		}
	}
	if d.Snapshot == nil {
		return "-", nil
	}
	event := v1alpha1.EventPush
	if ch.PullRequest {
		event = v1alpha1.EventPullRequest
	}
	s := &v1alpha1.Snapshot{Spec: *d.Snapshot}
	s.Name, s.Namespace = Name(ch.Application, origin), ns
	s.Labels = Labels(ch.Type, event, origin, d.Sequence)
	nums, _ := json.Marshal(d.BuildNumbers)
	s.Annotations = map[string]string{v1alpha1.AnnotationBuildNumbers: string(nums), AnnotationSnapshotOf: origin}
	if ch.Type == v1alpha1.SnapshotTypeComponent && len(ch.Artifacts) == 1 {
		s.Labels[v1alpha1.LabelComponent] = v1alpha1.LabelValue(ch.Artifacts[0].Component)
	}
	if err := c.create(ctx, s, origin); err != nil {
		return "", err
	}
	c.Log.Info("snapshot", "namespace", ns, "name", s.Name, "type", ch.Type, "components", len(s.Spec.Components), "sequence", d.Sequence)
	return s.Name, nil
}

// create creates s; if a Snapshot of that name exists it must be the one
// made for origin (a retry after a crash), else s gets a suffix.
func (c *Controller) create(ctx context.Context, s *v1alpha1.Snapshot, origin string) error {
	base := s.Name
	for i := 1; ; i++ {
		_, err := c.reg.Create(ctx, snapshotKind, s, registry.CreateOptions{})
		if err == nil || !apierrors.IsAlreadyExists(err) {
			if err != nil {
				return fmt.Errorf("creating snapshot %s: %w", s.Name, err)
			}
			return nil
		}
		cur, gerr := registry.Get[v1alpha1.Snapshot](ctx, c.reg, s.Namespace, s.Name)
		if gerr != nil {
			return gerr
		}
		if cur.Annotations[AnnotationSnapshotOf] == origin {
			return nil
		}
		if i == 10 {
			return fmt.Errorf("creating the snapshot of %s: names %s to %s are taken by other snapshots", origin, base, s.Name)
		}
		s.Name = fmt.Sprintf("%s-%d", strings.TrimRight(base[:min(len(base), 250)], "-."), i+1)
	}
}

// mark records the Snapshot on its build or group, and for a group the
// attempt it was made for.
func (c *Controller) mark(ctx context.Context, k *v1alpha1.Kind, obj v1alpha1.Object, snap, attempt string) error {
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[AnnotationSnapshot] = snap
	if attempt != "" {
		ann[AnnotationSnapshotAttempt] = attempt
	}
	obj.SetAnnotations(ann)
	_, err := c.reg.Update(ctx, k, obj, registry.UpdateOptions{})
	return err
}

// number gives a user-created Snapshot the next sequence number.
func (c *Controller) number(ctx context.Context, s *v1alpha1.Snapshot) error {
	if s.Labels[v1alpha1.LabelSequence] != "" {
		return nil
	}
	app, err := registry.Get[v1alpha1.Application](ctx, c.reg, s.Namespace, s.Spec.Application)
	if err != nil {
		return err
	}
	app.Status.SnapshotSequence++
	if _, err := registry.WriteStatus(ctx, c.reg, app); err != nil {
		return err
	}
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	s.Labels[v1alpha1.LabelSequence] = fmt.Sprint(app.Status.SnapshotSequence)
	if s.Labels[v1alpha1.LabelSnapshotType] == "" {
		s.Labels[v1alpha1.LabelSnapshotType] = v1alpha1.SnapshotTypeOverride
	}
	if s.Annotations[v1alpha1.AnnotationBuildNumbers] == "" {
		if nums := knownBuildNumbers(app, s); len(nums) > 0 {
			b, _ := json.Marshal(nums)
			if s.Annotations == nil {
				s.Annotations = map[string]string{}
			}
			s.Annotations[v1alpha1.AnnotationBuildNumbers] = string(b)
		}
	}
	_, err = c.reg.Update(ctx, snapshotKind, s, registry.UpdateOptions{})
	return err
}

// knownBuildNumbers gives the build numbers of a user's Snapshot's
// images that are the Application's current candidates.
func knownBuildNumbers(app *v1alpha1.Application, s *v1alpha1.Snapshot) map[string]int64 {
	out := map[string]int64{}
	for _, comp := range s.Spec.Components {
		if c := app.Candidate(comp.Name); c != nil && c.ContainerImage == comp.ContainerImage {
			out[comp.Name] = c.BuildNumber
		}
	}
	return out
}

func gitURL(c *v1alpha1.Component) string {
	if g := c.Spec.Source.Git; g != nil {
		return g.URL
	}
	return ""
}
