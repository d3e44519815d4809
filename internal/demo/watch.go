package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/registry"
)

// Outcome is where Follow ended.
type Outcome struct {
	// Snapshot is the newest Snapshot of the application.
	Snapshot string
	// Release is the newest Release of that Snapshot ("" when none).
	Release string
	// Released is true when that Release succeeded.
	Released bool
	// StaticDir is where the Release published files, if it did.
	StaticDir string
}

// Follow prints the builds of namespace ns as they change phase until
// every one of its components has a finished build, then the
// Snapshots' test results and the Releases, until the newest Snapshot's
// Release finished (or its tests failed, or nothing releases it). When
// ctx ends first, it says what is still pending.
func Follow(ctx context.Context, reg *registry.Registry, ns string, components int, staticRoot string, out io.Writer) (Outcome, error) {
	f := &follower{reg: reg, ns: ns, components: components, out: out, staticRoot: staticRoot,
		builds: map[string]string{}, printed: map[string]bool{}}
	for {
		st, err := f.poll(ctx)
		if err != nil {
			return Outcome{}, err
		}
		if f.step(st) {
			return f.finish(st), nil
		}
		select {
		case <-ctx.Done():
			return Outcome{}, f.timeout(ctx, st)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// follower remembers what it printed.
type follower struct {
	reg        *registry.Registry
	ns         string
	components int
	out        io.Writer
	builds     map[string]string // build name → last phase printed
	printed    map[string]bool   // test results and releases printed
	built      bool              // every component has a finished build
	staticRoot string            // DATA_DIR/repos: publish-static paths start there
}

// state is one poll of the namespace.
type state struct {
	builds    []*v1alpha1.Build
	snapshots []*v1alpha1.Snapshot // by sequence
	releases  []*v1alpha1.Release  // by creation
	groups    map[string]*v1alpha1.BuildGroup
	autoPlans int // auto-release plans
}

func (f *follower) poll(ctx context.Context) (state, error) {
	var st state
	var err error
	if st.builds, err = list[*v1alpha1.Build](ctx, f.reg, "Build", f.ns); err != nil {
		return st, err
	}
	if !f.built {
		return st, nil
	}
	if st.snapshots, err = list[*v1alpha1.Snapshot](ctx, f.reg, "Snapshot", f.ns); err != nil {
		return st, err
	}
	sort.SliceStable(st.snapshots, func(i, j int) bool { return st.snapshots[i].Sequence() < st.snapshots[j].Sequence() })
	if st.releases, err = list[*v1alpha1.Release](ctx, f.reg, "Release", f.ns); err != nil {
		return st, err
	}
	groups, err := list[*v1alpha1.BuildGroup](ctx, f.reg, "BuildGroup", f.ns)
	if err != nil {
		return st, err
	}
	st.groups = map[string]*v1alpha1.BuildGroup{}
	for _, g := range groups {
		st.groups[g.Name] = g
	}
	plans, err := list[*v1alpha1.ReleasePlan](ctx, f.reg, "ReleasePlan", f.ns)
	for _, p := range plans {
		if p.AutoRelease() {
			st.autoPlans++
		}
	}
	return st, err
}

// list returns a namespace's objects of a kind, oldest first.
func list[T v1alpha1.Object](ctx context.Context, reg *registry.Registry, kind, ns string) ([]T, error) {
	k, _ := v1alpha1.Lookup(kind)
	res, err := reg.List(ctx, k, registry.ListOptions{Namespace: ns})
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", k.Plural, err)
	}
	out := make([]T, 0, len(res.Items))
	for _, o := range res.Items {
		out = append(out, o.(T))
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].GetCreationTimestamp(), out[j].GetCreationTimestamp()
		return a.Before(&b)
	})
	return out, nil
}

// step prints what changed; it reports whether the demo is done.
func (f *follower) step(st state) bool {
	done, width := map[string]bool{}, 22
	for _, b := range st.builds {
		width = max(width, len(b.Name))
	}
	for _, b := range st.builds {
		if f.builds[b.Name] != b.Status.Phase {
			f.builds[b.Name] = b.Status.Phase
			printTransition(f.out, b, width)
		}
		if b.Finished() {
			done[b.Spec.Component] = true
		}
	}
	if !f.built {
		if len(done) < f.components {
			return false
		}
		f.built = true
		summary(f.out, st.builds)
		fmt.Fprintln(f.out, "\nTesting each snapshot in the sandbox, releasing the ones that pass (policy, then the managed pipeline):")
		return false
	}
	f.printTests(st.snapshots)
	f.printReleases(st.releases, st.snapshots)
	return len(pending(st)) == 0
}

func printTransition(out io.Writer, b *v1alpha1.Build, width int) {
	line := fmt.Sprintf("  %-*s #%-3d %-10s", width, b.Name, b.Status.BuildNumber, b.Status.Phase)
	switch {
	case b.Status.Phase == v1alpha1.BuildSucceeded && b.Status.Artifact != nil:
		line += fmt.Sprintf(" %s (%s)", b.Status.Artifact.Digest[:19]+"…", took(b))
	case b.Finished():
		line += " " + b.Status.Message
	case b.Status.Phase == v1alpha1.BuildQueued:
		line += " reason: " + b.Spec.Reason.Type
	}
	fmt.Fprintln(out, line)
}

func took(b *v1alpha1.Build) string {
	if b.Status.StartTime == nil || b.Status.CompletionTime == nil {
		return "?"
	}
	return b.Status.CompletionTime.Sub(b.Status.StartTime.Time).Round(100 * time.Millisecond).String()
}

func summary(out io.Writer, builds []*v1alpha1.Build) {
	fmt.Fprintln(out, "\nArtifacts in the embedded registry:")
	for _, b := range builds {
		if b.Status.Artifact != nil {
			fmt.Fprintf(out, "  %-12s %s@%s\n", b.Spec.Component, b.Status.Artifact.Repository, b.Status.Artifact.Digest)
		}
	}
}

// timeout says what is still pending when ctx ended.
func (f *follower) timeout(ctx context.Context, st state) error {
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ctx.Err()
	}
	var p []string
	if !f.built {
		p = unbuilt(st.builds)
	} else {
		p = pending(st)
	}
	fmt.Fprintln(f.out, "\nGave up waiting; still pending:")
	for _, x := range p {
		fmt.Fprintln(f.out, "  "+x)
	}
	return fmt.Errorf("demo still pending (%s): %w", strings.Join(p, "; "), ctx.Err())
}

func unbuilt(builds []*v1alpha1.Build) []string {
	var out []string
	for _, b := range builds {
		if !b.Finished() {
			out = append(out, fmt.Sprintf("build %s (%s)", b.Name, phaseOr(b.Status.Phase, "New")))
		}
	}
	if len(out) == 0 {
		out = append(out, "a build of every component")
	}
	return out
}

func phaseOr(phase, def string) string {
	if phase == "" {
		return def
	}
	return phase
}
