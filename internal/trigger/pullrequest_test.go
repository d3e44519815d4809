package trigger

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/git"
	"github.com/kilnbuild/kiln/internal/webhook"
)

// A pull request's build is created once per head (a redelivery creates
// nothing), named apart from the branch's builds and labelled as the pull
// request's; the component's status is left alone (its branch did not
// move). What the builder does with such a build is tested there.
func TestOnPullRequestCreatesOneLabelledBuild(t *testing.T) {
	t.Parallel()
	e := setup(t)
	tr := newCreator(e.reg, nil, slog.New(slog.DiscardHandler))
	head := strings.Repeat("1", 40)
	pr := PullRequest{Number: 7, Commit: head, HeadRef: "feature/x"}
	for range 2 { // a redelivery creates nothing
		if err := tr.onPullRequest(t.Context(), "team", "lib", pr, "webhook:github"); err != nil {
			t.Fatal(err)
		}
	}
	name := PullRequestBuildName("lib", 7, head)
	if name != "lib-pr7-111111111111" || e.countBuilds(t) != 1 {
		t.Fatalf("build %s, %d builds; want lib-pr7-111111111111, 1", name, e.countBuilds(t))
	}
	b := e.build(t, name)
	r := b.Spec.Reason
	if b.Spec.Revision != head || r.Type != v1alpha1.ReasonPullRequest || r.By != "webhook:github" ||
		r.Message != "pull request #7: feature/x at 1111111" {
		t.Fatalf("pull request build spec %+v", b.Spec)
	}
	if b.Labels[v1alpha1.LabelEventType] != v1alpha1.EventPullRequest || b.Labels[v1alpha1.LabelPullRequest] != "7" ||
		b.Labels[v1alpha1.LabelComponent] != "lib" || b.Labels[v1alpha1.LabelApplication] != "app" || !b.PullRequest() {
		t.Fatalf("labels %v", b.Labels)
	}
	if cs := e.component(t, "lib"); cs.LastSeenCommit != "" || cs.PendingCommit != "" {
		t.Fatalf("a pull request changed the component: %+v", cs)
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
	e := setup(t)
	url, head := prRepo(t)
	e.create(t, "Component", "team", `{"metadata":{"name":"web"},"spec":{"application":"app","source":{"git":{"url":"`+url+`"}}}}`)
	e.create(t, "Component", "team", `{"metadata":{"name":"old"},"spec":{"application":"app","source":{"git":{"url":"`+url+`","revision":"release"}}}}`)
	s := New(e.reg, Options{Git: &git.Cache{Dir: t.TempDir()}, CheckURL: git.AllowedURLs(true), Log: slog.New(slog.DiscardHandler)})
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
