package build

import (
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/git"
	"github.com/kilnbuild/kiln/internal/registry"
	"github.com/kilnbuild/kiln/internal/webhook"
)

func (e *env) component(t *testing.T, name string) v1alpha1.ComponentStatus {
	t.Helper()
	obj, err := e.reg.Get(t.Context(), componentKind, "team", name, registry.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return obj.(*v1alpha1.Component).Status
}

func (e *env) countBuilds(t *testing.T) int {
	t.Helper()
	res, err := e.reg.List(t.Context(), buildKind, registry.ListOptions{Namespace: "team"})
	if err != nil {
		t.Fatal(err)
	}
	return len(res.Items)
}

// A pull request's build is created once per head, runs, and leaves the
// component's status alone; a branch build never reuses its artifact, and
// a pull request build may reuse a branch build's.
func TestPullRequestBuildLeavesComponentAlone(t *testing.T) {
	t.Parallel()
	fe := &fakeExecutor{inputs: "sha256:in1"}
	e := setup(t, fe)
	tr := NewTrigger(e.reg)
	head := strings.Repeat("1", 40)
	pr := PullRequest{Number: 7, Commit: head, HeadRef: "feature/x"}
	for range 2 { // a redelivery creates nothing
		if err := tr.OnPullRequest(t.Context(), "team", "lib", pr, "webhook:github"); err != nil {
			t.Fatal(err)
		}
	}
	name := PullRequestBuildName("lib", 7, head)
	if name != "lib-pr7-111111111111" || e.countBuilds(t) != 1 {
		t.Fatalf("build %s, %d builds; want lib-pr7-111111111111, 1", name, e.countBuilds(t))
	}
	b := e.waitPhase(t, name, v1alpha1.BuildSucceeded)
	r := b.Spec.Reason
	if b.Spec.Revision != head || r.Type != v1alpha1.ReasonPullRequest || r.By != "webhook:github" ||
		r.Message != "pull request #7: feature/x at 1111111" {
		t.Fatalf("pull request build spec %+v", b.Spec)
	}
	if b.Labels[v1alpha1.LabelEventType] != v1alpha1.EventPullRequest || b.Labels[v1alpha1.LabelPullRequest] != "7" ||
		b.Labels[v1alpha1.LabelComponent] != "lib" || b.Labels[v1alpha1.LabelApplication] != "app" {
		t.Fatalf("labels %v", b.Labels)
	}
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
	next := strings.Repeat("2", 40)
	if err := tr.OnPullRequest(t.Context(), "team", "lib", PullRequest{Number: 7, Commit: next, HeadRef: "feature/x"}, "webhook:github"); err != nil {
		t.Fatal(err)
	}
	b2 := e.waitPhase(t, PullRequestBuildName("lib", 7, next), v1alpha1.BuildSucceeded)
	if b2.Status.CachedFrom != "lib-1" {
		t.Fatalf("pull request build did not reuse the branch build: %+v", b2.Status)
	}
	e.stop()
	if cs := e.component(t, "lib"); cs.LastBuiltCommit != "c0ffee" || cs.LatestArtifact != push.Status.Artifact.Digest || cs.BuildCounter != 3 {
		t.Fatalf("component status %+v; want the branch build's", cs)
	}
}

// gitIn runs git in dir and returns its trimmed output.
func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@x", "GIT_COMMITTER_NAME=t",
		"GIT_COMMITTER_EMAIL=t@x", "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// prRepo is a repository with main and a pull request head on branch
// feature, also published as refs/pull/7/head. It returns the file:// URL
// and the head commit.
func prRepo(t *testing.T) (string, string) {
	dir := t.TempDir()
	gitIn(t, dir, "init", "-q", "-b", "main")
	if err := os.WriteFile(filepath.Join(dir, "VERSION"), []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitIn(t, dir, "add", "-A")
	gitIn(t, dir, "commit", "-q", "-m", "one")
	gitIn(t, dir, "checkout", "-q", "-b", "feature")
	if err := os.WriteFile(filepath.Join(dir, "VERSION"), []byte("2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitIn(t, dir, "commit", "-q", "-am", "two")
	head := gitIn(t, dir, "rev-parse", "HEAD")
	gitIn(t, dir, "update-ref", "refs/pull/7/head", head)
	gitIn(t, dir, "checkout", "-q", "main")
	return "file://" + dir, head
}

// onPullRequest builds the verified components whose branch is the pull
// request's target, at the head commit, fetched by hash or, failing that,
// by the forge's pull request ref.
func TestOnPullRequestFetchesTheHead(t *testing.T) {
	t.Parallel()
	e := setup(t, &fakeExecutor{})
	url, head := prRepo(t)
	e.create(t, "Component", "team", `{"metadata":{"name":"web"},"spec":{"application":"app","source":{"git":{"url":"`+url+`"}}}}`)
	e.create(t, "Component", "team", `{"metadata":{"name":"old"},"spec":{"application":"app","source":{"git":{"url":"`+url+`","revision":"release"}}}}`)
	s := NewSources(e.reg, &git.Cache{Dir: t.TempDir()}, true, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ev := webhook.PullRequestEvent{Forge: "github", Number: 7, HeadSHA: head, HeadRef: "feature", BaseRef: "main",
		VerifiedBy: []string{"team/web", "team/old", "team/gone"}}
	if err := s.onPullRequest(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	b := e.build(t, PullRequestBuildName("web", 7, head))
	if b.Spec.Revision != head || !b.PullRequest() || e.countBuilds(t) != 1 {
		t.Fatalf("build %s at %s, %d builds", b.Name, b.Spec.Revision, e.countBuilds(t))
	}
	// A head the remote does not serve by hash (a fork's, say): the pull
	// request ref is fetched instead, and its commit built.
	ev.Number, ev.HeadSHA = 7, strings.Repeat("e", 40)
	commit, err := s.fetchPullRequest(t.Context(), url, ev)
	if err != nil || commit != head {
		t.Fatalf("fallback to refs/pull/7/head: %s, %v; want %s", commit, err, head)
	}
	ev.Number = 8 // no such ref either
	if _, err := s.fetchPullRequest(t.Context(), url, ev); err == nil || !strings.Contains(err.Error(), "pull request #8") {
		t.Fatalf("unfetchable head: %v", err)
	}
}
