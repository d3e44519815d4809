package demo

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/snapshot"
)

// printTests prints each finished test run once (a re-run prints again).
func (f *follower) printTests(snaps []*v1alpha1.Snapshot) {
	for _, s := range snaps {
		for _, t := range s.Status.Tests {
			key := fmt.Sprintf("test/%s/%s/%d", s.Name, t.Scenario, t.Attempts)
			if t.State != v1alpha1.TestFinished || f.printed[key] {
				continue
			}
			f.printed[key] = true
			fmt.Fprintf(f.out, "  snapshot %s (%s): %s %s (%s)%s\n", s.Name, componentNames(s), t.Scenario, t.Result, checks(t), note(t))
		}
	}
}

func componentNames(s *v1alpha1.Snapshot) string {
	names := make([]string, 0, len(s.Spec.Components))
	for _, c := range s.Spec.Components {
		names = append(names, c.Name)
	}
	return strings.Join(names, ", ")
}

func checks(t v1alpha1.SnapshotTest) string {
	out := plural(t.Successes, "check") + " passed"
	if t.Failures > 0 {
		out += fmt.Sprintf(", %d failed", t.Failures)
	}
	if t.Warnings > 0 {
		out += fmt.Sprintf(", %d warnings", t.Warnings)
	}
	return out
}

// note is shown for results other than SUCCESS (why it failed).
func note(t v1alpha1.SnapshotTest) string {
	if t.Result == v1alpha1.ResultSuccess || t.Note == "" {
		return ""
	}
	return ": " + t.Note
}

// printReleases prints each finished Release once, oldest snapshot first,
// with the phases it went through (read from its conditions, so none is
// missed between polls).
func (f *follower) printReleases(rels []*v1alpha1.Release, snaps []*v1alpha1.Snapshot) {
	seq := map[string]int64{}
	for _, s := range snaps {
		seq[s.Name] = s.Sequence()
	}
	rels = append([]*v1alpha1.Release(nil), rels...)
	sort.SliceStable(rels, func(i, j int) bool { return seq[rels[i].Spec.Snapshot] < seq[rels[j].Spec.Snapshot] })
	for _, r := range rels {
		key := "release/" + r.Name
		if !r.Finished() || f.printed[key] {
			continue
		}
		f.printed[key] = true
		fmt.Fprintf(f.out, "  release %s: %s (%s)\n", r.Name, strings.Join(phases(r), " → "), releaseDetail(r))
	}
}

// releaseSteps are the phases a Release may pass through, each with the
// condition it leaves behind.
var releaseSteps = []struct{ phase, cond string }{
	{v1alpha1.ReleaseTenant, v1alpha1.ConditionTenantPipelineProcessed},
	{v1alpha1.ReleasePolicy, v1alpha1.ConditionPolicyPassed},
	{v1alpha1.ReleaseManaged, v1alpha1.ConditionManagedPipelineProcessed},
	{v1alpha1.ReleaseFinal, v1alpha1.ConditionFinalPipelineProcessed},
}

func phases(r *v1alpha1.Release) []string {
	out := []string{v1alpha1.ReleaseValidating}
	for _, s := range releaseSteps {
		if meta.FindStatusCondition(r.Status.Conditions, s.cond) != nil {
			out = append(out, s.phase)
		}
	}
	return append(out, r.Status.Phase)
}

// releaseDetail is the policy's verdict, and why a Release failed.
func releaseDetail(r *v1alpha1.Release) string {
	var parts []string
	if a := r.Status.Attribution; a.Automated {
		parts = append(parts, "auto-release")
	}
	if v := r.Status.Policy; v != nil {
		parts = append(parts, fmt.Sprintf("policy: %d violations, %d warnings, %d rule checks passed over %s",
			v.Violations, v.Warnings, v.Successes, plural(len(v.Components), "component")))
	}
	if n := len(r.Status.Retries); n > 0 {
		parts = append(parts, fmt.Sprintf("%d retries", n))
	}
	for _, c := range r.Status.Conditions {
		if c.Status == "False" {
			parts = append(parts, c.Type+": "+c.Message)
			break
		}
	}
	return strings.Join(parts, "; ")
}

// pending lists what the demo still waits for once every component has
// built: snapshots of successful builds (and build groups), the newest
// snapshot's tests, and its release (when a plan auto-releases); a Release
// under way.
func pending(st state) []string {
	var p []string
	for _, b := range st.builds {
		if !b.Finished() {
			p = append(p, fmt.Sprintf("build %s (%s)", b.Name, phaseOr(b.Status.Phase, "New")))
		}
	}
	p = append(p, unsnapshotted(st)...)
	for _, r := range st.releases {
		if !r.Finished() {
			p = append(p, fmt.Sprintf("release %s (%s)", r.Name, phaseOr(r.Status.Phase, "New")))
		}
	}
	if s := newest(st.snapshots); s != nil {
		p = append(p, pendingFor(s, st)...)
	}
	return p
}

// unsnapshotted lists succeeded builds, and groups of builds, that Kiln
// has not yet turned into a Snapshot (it marks them when it has).
func unsnapshotted(st state) []string {
	var p []string
	seen := map[string]bool{}
	for _, b := range st.builds {
		switch {
		case b.Spec.Group != "" && !seen[b.Spec.Group]:
			seen[b.Spec.Group] = true
			if g := st.groups[b.Spec.Group]; g == nil || !snapshot.GroupDone(g) {
				p = append(p, "a snapshot of build group "+b.Spec.Group)
			}
		case b.Spec.Group == "" && b.Status.Phase == v1alpha1.BuildSucceeded && b.Annotations[snapshot.AnnotationSnapshot] == "":
			p = append(p, "a snapshot of build "+b.Name)
		}
	}
	return p
}

func pendingFor(s *v1alpha1.Snapshot, st state) []string {
	c := meta.FindStatusCondition(s.Status.Conditions, v1alpha1.ConditionTestsPassed)
	switch {
	case c == nil || c.Status == "Unknown":
		return []string{fmt.Sprintf("the tests of snapshot %s (%s)", s.Name, testStates(s))}
	case c.Status == "False" || st.autoPlans == 0:
		return nil
	case releaseOf(s, st.releases) == nil:
		return []string{"the release of snapshot " + s.Name}
	}
	return nil
}

func testStates(s *v1alpha1.Snapshot) string {
	if len(s.Status.Tests) == 0 {
		return "not started"
	}
	var out []string
	for _, t := range s.Status.Tests {
		out = append(out, t.Scenario+" "+t.State)
	}
	return strings.Join(out, ", ")
}

func newest(snaps []*v1alpha1.Snapshot) *v1alpha1.Snapshot {
	if len(snaps) == 0 {
		return nil
	}
	return snaps[len(snaps)-1]
}

// releaseOf is the newest Release of a Snapshot.
func releaseOf(s *v1alpha1.Snapshot, rels []*v1alpha1.Release) *v1alpha1.Release {
	for i := len(rels) - 1; i >= 0; i-- {
		if rels[i].Spec.Snapshot == s.Name {
			return rels[i]
		}
	}
	return nil
}

// finish prints where the demo ended and what was published.
func (f *follower) finish(st state) Outcome {
	var o Outcome
	s := newest(st.snapshots)
	if s == nil {
		fmt.Fprintln(f.out, "\nNo snapshot: no build succeeded.")
		return o
	}
	o.Snapshot = s.Name
	r := releaseOf(s, st.releases)
	if r == nil {
		fmt.Fprintf(f.out, "\nThe newest snapshot, %s, was not released: %s.\n", s.Name, testsMessage(s))
		return o
	}
	o.Release, o.Released, o.StaticDir = r.Name, r.Status.Phase == v1alpha1.ReleaseSucceeded, staticDir(f.staticRoot, r)
	fmt.Fprintf(f.out, "\nRelease %s of snapshot %s into %s: %s.\n", r.Name, s.Name, r.Status.Target, r.Status.Phase)
	if o.StaticDir != "" {
		fmt.Fprintf(f.out, "Published static repository: %s\n", o.StaticDir)
		listDir(f.out, o.StaticDir)
	}
	return o
}

func testsMessage(s *v1alpha1.Snapshot) string {
	if c := meta.FindStatusCondition(s.Status.Conditions, v1alpha1.ConditionTestsPassed); c != nil {
		return c.Message
	}
	return "no tests ran"
}

// staticDir is where publish-static wrote: the static root joined with
// status.artifacts.<component>.path, whose parent holds every component.
func staticDir(root string, r *v1alpha1.Release) string {
	names := make([]string, 0, len(r.Status.Artifacts))
	for name := range r.Status.Artifacts {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if a, ok := r.Status.Artifacts[name].(map[string]any); ok {
			if p, ok := a["path"].(string); ok && p != "" {
				return filepath.Join(root, filepath.Dir(filepath.FromSlash(p))) // the components' directories are side by side
			}
		}
	}
	return ""
}

func listDir(out io.Writer, dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		fmt.Fprintf(out, "  (%v)\n", err)
		return
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() {
			n += "/"
		}
		names = append(names, n)
	}
	fmt.Fprintf(out, "  %s\n", strings.Join(names, "  "))
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
