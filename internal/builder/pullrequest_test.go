package builder

import (
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/registry"
)

func (e *env) component(t *testing.T, name string) v1alpha1.ComponentStatus {
	t.Helper()
	comp, err := registry.Get[v1alpha1.Component](t.Context(), e.reg, "team", name)
	if err != nil {
		t.Fatal(err)
	}
	return comp.Status
}

// pullRequestBuild is a build of pull request 7 at commit, labelled as the
// pull request triggers label it.
func pullRequestBuild(name, commit string) string {
	return `{"metadata":{"name":"` + name + `","labels":{"` + v1alpha1.LabelEventType + `":"` + v1alpha1.EventPullRequest +
		`","` + v1alpha1.LabelPullRequest + `":"7"}},"spec":{"component":"lib","revision":"` + commit +
		`","reason":{"type":"pull-request","by":"webhook:github"}}}`
}

// A pull request's build runs and leaves the component's status alone; a
// branch build never reuses its artifact, and a pull request build may
// reuse a branch build's.
func TestPullRequestBuildLeavesComponentAlone(t *testing.T) {
	t.Parallel()
	fe := &fakeExecutor{inputs: "sha256:in1"}
	e := setup(t, fe)
	head := strings.Repeat("1", 40)
	e.create(t, "Build", "team", pullRequestBuild("lib-pr7-111111111111", head))
	b := e.waitPhase(t, "lib-pr7-111111111111", v1alpha1.BuildSucceeded)
	e.stop() // every write of the attempt is done
	if cs := e.component(t, "lib"); cs.LastBuiltCommit != "" || cs.LatestArtifact != "" || cs.LastSeenCommit != "" || cs.BuildCounter != 1 {
		t.Fatalf("a pull request build changed the component: %+v", cs)
	}
	if b.Status.Unchanged || b.Status.Commit != head {
		t.Fatalf("pull request build status %+v", b.Status)
	}
	e.start(t)

	// The branch's build with identical inputs runs: no cache hit from the
	// pull request.
	e.create(t, "Build", "team", newBuild("lib-1"))
	push := e.waitPhase(t, "lib-1", v1alpha1.BuildSucceeded)
	if push.Status.CachedFrom != "" || fe.count() != 2 {
		t.Fatalf("a branch build reused a pull request build: cachedFrom %q, %d runs", push.Status.CachedFrom, fe.count())
	}
	// The pull request's next head may reuse the branch build's artifact.
	e.create(t, "Build", "team", pullRequestBuild("lib-pr7-222222222222", strings.Repeat("2", 40)))
	b2 := e.waitPhase(t, "lib-pr7-222222222222", v1alpha1.BuildSucceeded)
	if b2.Status.CachedFrom != "lib-1" {
		t.Fatalf("pull request build did not reuse the branch build: %+v", b2.Status)
	}
	e.stop()
	if cs := e.component(t, "lib"); cs.LastBuiltCommit != "c0ffee" || cs.LatestArtifact != push.Status.Artifact.Digest || cs.BuildCounter != 3 {
		t.Fatalf("component status %+v; want the branch build's", cs)
	}
}
