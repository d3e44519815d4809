// Package snapshot turns finished builds into Snapshots: the global
// candidate list of each Application (the latest good artifact of every
// component, never overwritten by an older build) and one immutable
// Snapshot per successful build or build group. It also numbers Snapshots
// (kiln.dev/sequence, so "older" is well defined for auto-release) and
// garbage-collects the ones nothing refers to.
//
//	Build Succeeded ──┐                        ┌─► Application.status.candidates
//	                  ├─► Next (pure) ─► apply ─┤
//	BuildGroup done ──┘                        └─► Snapshot (+ sequence label)
package snapshot

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

// Artifact is one component's new output.
type Artifact struct {
	Component   string
	Image       string // repository@sha256:…
	Build       string
	BuildNumber int64
	Source      *v1alpha1.SnapshotSource
}

// Change is what a finished build or group asks for.
type Change struct {
	Application string
	Artifacts   []Artifact
	// PullRequest: a PR snapshot, which leaves the candidate list alone.
	PullRequest bool
	// Unchanged: the outputs equal the previous ones; the candidates are
	// refreshed but no Snapshot is needed.
	Unchanged bool
	Type      string // component or group
}

// Decision is what to write.
type Decision struct {
	// Candidates is the new candidate list; nil when unchanged.
	Candidates []v1alpha1.Candidate
	// Snapshot is the spec of the Snapshot to create, nil for none.
	Snapshot *v1alpha1.SnapshotSpec
	// Sequence is its kiln.dev/sequence.
	Sequence int64
	// BuildNumbers maps the Snapshot's components to their build numbers.
	BuildNumbers map[string]int64
}

// Next computes the candidate list and the Snapshot for a change, given
// the Application as stored. It is pure.
func Next(app *v1alpha1.Application, ch Change) Decision {
	var d Decision
	if !ch.PullRequest {
		d.Candidates = mergeCandidates(app.Status.Candidates, ch.Artifacts)
	}
	if ch.Unchanged || len(ch.Artifacts) == 0 {
		return d
	}
	base := app.Status.Candidates
	if d.Candidates != nil {
		base = d.Candidates
	}
	d.Snapshot = &v1alpha1.SnapshotSpec{Application: ch.Application, Components: components(base, ch.Artifacts)}
	d.Sequence = app.Status.SnapshotSequence + 1
	d.BuildNumbers = map[string]int64{}
	for _, c := range base {
		d.BuildNumbers[c.Component] = c.BuildNumber
	}
	for _, a := range ch.Artifacts {
		d.BuildNumbers[a.Component] = a.BuildNumber
	}
	return d
}

// mergeCandidates replaces a component's candidate only with a build of a
// larger number; it returns nil when nothing changes.
func mergeCandidates(cur []v1alpha1.Candidate, arts []Artifact) []v1alpha1.Candidate {
	out := append([]v1alpha1.Candidate(nil), cur...)
	changed := false
	for _, a := range arts {
		c := v1alpha1.Candidate{Component: a.Component, ContainerImage: a.Image, Build: a.Build, BuildNumber: a.BuildNumber, Source: a.Source}
		i := sort.Search(len(out), func(i int) bool { return out[i].Component >= a.Component })
		switch {
		case i < len(out) && out[i].Component == a.Component:
			if out[i].BuildNumber >= a.BuildNumber && out[i].Build != "" {
				continue
			}
			out[i] = c
		default:
			out = append(out[:i], append([]v1alpha1.Candidate{c}, out[i:]...)...)
		}
		changed = true
	}
	if !changed {
		return nil
	}
	return out
}

// components lists the candidates, with the change's own artifacts in
// place of their components' entries (a Snapshot always holds the build
// it was made for, even if a newer candidate exists).
func components(cands []v1alpha1.Candidate, arts []Artifact) []v1alpha1.SnapshotComponent {
	own := map[string]Artifact{}
	for _, a := range arts {
		own[a.Component] = a
	}
	var out []v1alpha1.SnapshotComponent
	for _, c := range cands {
		if _, ok := own[c.Component]; !ok {
			out = append(out, v1alpha1.SnapshotComponent{Name: c.Component, ContainerImage: c.ContainerImage, Source: c.Source})
		}
	}
	for _, a := range arts {
		out = append(out, v1alpha1.SnapshotComponent{Name: a.Component, ContainerImage: a.Image, Source: a.Source})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Name is the deterministic name of the Snapshot made for a build or a
// group: creating it twice (after a crash) finds the first one.
func Name(app, origin string) string {
	n := app + "-" + origin
	if strings.HasPrefix(origin, app+"-") {
		n = origin // a batch group "<app>-batch-…" is not named "<app>-<app>-batch-…"
	}
	return v1alpha1.FitName(n)
}

// Labels are a new Snapshot's labels.
func Labels(typ, event, origin string, seq int64) map[string]string {
	l := map[string]string{
		v1alpha1.LabelSnapshotType: typ,
		v1alpha1.LabelEventType:    event,
		v1alpha1.LabelSequence:     strconv.FormatInt(seq, 10),
	}
	if typ == v1alpha1.SnapshotTypeGroup {
		l[v1alpha1.LabelBuildGroup] = v1alpha1.LabelValue(origin)
	} else {
		l[v1alpha1.LabelBuild] = v1alpha1.LabelValue(origin)
	}
	return l
}

// ArtifactOf describes a succeeded build's output.
func ArtifactOf(b *v1alpha1.Build, url string) (Artifact, error) {
	a := b.Status.Artifact
	if a == nil {
		return Artifact{}, fmt.Errorf("build %s has no artifact", b.Name)
	}
	out := Artifact{Component: b.Spec.Component, Image: a.Repository + "@" + a.Digest, Build: b.Name, BuildNumber: b.Status.BuildNumber}
	if url != "" && b.Status.Commit != "" {
		out.Source = &v1alpha1.SnapshotSource{Git: &v1alpha1.SnapshotGitSource{URL: url, Revision: b.Status.Commit}}
	}
	return out, nil
}
