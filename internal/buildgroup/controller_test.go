package buildgroup

import (
	"slices"
	"testing"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/store"
)

// A pull request's build never starts a dependants group: its output is
// not the component's.
func TestDependantsIgnorePullRequestBuilds(t *testing.T) {
	t.Parallel()
	event := func(group, phase string, labels map[string]string) store.Event {
		return store.Event{Type: store.Modified, Object: &store.Object{Kind: "Build", Namespace: "team", Name: "b",
			Labels: labels, Fields: map[string]string{"spec.group": group, "status.phase": phase}}}
	}
	pr := map[string]string{v1alpha1.LabelEventType: v1alpha1.EventPullRequest, v1alpha1.LabelPullRequest: "4"}
	push := map[string]string{v1alpha1.LabelEventType: v1alpha1.EventPush}
	for name, tc := range map[string]struct {
		ev   store.Event
		want int
	}{
		"branch build":       {event("", v1alpha1.BuildSucceeded, nil), 1},
		"push-labelled":      {event("", v1alpha1.BuildSucceeded, push), 1},
		"pull request build": {event("", v1alpha1.BuildSucceeded, pr), 0},
		"group member":       {event("g", v1alpha1.BuildSucceeded, nil), 0},
		"failed":             {event("", v1alpha1.BuildFailed, nil), 0},
	} {
		if got := finishedOutsideGroup(tc.ev); len(got) != tc.want {
			t.Errorf("%s: %v; want %d requests", name, got, tc.want)
		}
	}
	b := &v1alpha1.Build{}
	b.Labels = pr
	if !b.PullRequest() {
		t.Error("a build labelled event-type pull_request is not a pull request build")
	}
}

// A dependants group leaves out components that never had a build: their
// first build comes from their own trigger and takes the new output.
func TestDependantsGroupLeavesOutNeverBuiltComponents(t *testing.T) {
	t.Parallel()
	comp := func(name string, counter int64) *v1alpha1.Component {
		c := &v1alpha1.Component{}
		c.Name, c.Status.BuildCounter = name, counter
		return c
	}
	comps := []*v1alpha1.Component{comp("base", 0), comp("built", 3), comp("new", 0), comp("failed-once", 1)}
	var got []string
	for _, c := range everBuilt(comps, []string{"base"}) {
		got = append(got, c.Name)
	}
	if want := []string{"base", "built", "failed-once"}; !slices.Equal(got, want) {
		t.Fatalf("members considered: %v, want %v", got, want)
	}
}

// Dependants already built against the new output lose their edge from
// it; the others keep it, and the old
// output they were built against is reported when they agree on it.
func TestPruneUpToDate(t *testing.T) {
	t.Parallel()
	graph := func() Graph {
		return Graph{"lib": {Name: "lib"}, "fresh": {Name: "fresh", Deps: []string{"lib"}},
			"stale": {Name: "stale", Deps: []string{"lib"}}, "both": {Name: "both", Deps: []string{"fresh", "lib"}},
			"unknown": {Name: "unknown", Deps: []string{"lib"}}}
	}
	g := graph()
	old := pruneUpToDate(g, "lib", map[string]string{"fresh": "new", "stale": "old", "both": "new", "unknown": ""}, "new")
	if old != "old" {
		t.Errorf("old output %q, want old", old)
	}
	if len(g["fresh"].Deps) != 0 || !slices.Equal(g["both"].Deps, []string{"fresh"}) ||
		!slices.Equal(g["stale"].Deps, []string{"lib"}) || !slices.Equal(g["unknown"].Deps, []string{"lib"}) {
		t.Errorf("edges after pruning: fresh %v both %v stale %v unknown %v", g["fresh"].Deps, g["both"].Deps, g["stale"].Deps, g["unknown"].Deps)
	}
	members, _ := g.Members([]string{"lib"})
	if want := []string{"lib", "stale", "unknown"}; !slices.Equal(members, want) {
		t.Errorf("members %v, want %v", members, want)
	}
	g = graph()
	if old := pruneUpToDate(g, "lib", map[string]string{"stale": "old", "unknown": "older"}, "new"); old != "" {
		t.Errorf("dependants built against different outputs: old %q, want none", old)
	}
	members, _ = g.Members([]string{"lib"})
	if len(members) != 5 {
		t.Errorf("nothing up to date, members %v", members)
	}
}
