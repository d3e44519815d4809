package server

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/webhook"
)

// gitAt runs git in the repository of a file:// URL from gitRepo.
func gitAt(t *testing.T, url string, args ...string) {
	t.Helper()
	dir := strings.TrimPrefix(url, "file://")
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// githubPullRequest is a GitHub pull_request delivery for the repository
// at url: pull request number with head commit head on branch feature,
// into main.
func githubPullRequest(t *testing.T, url, action string, number int, head string) []byte {
	t.Helper()
	repo := map[string]any{"full_name": "local/hello", "clone_url": url, "html_url": url}
	payload, _ := json.Marshal(map[string]any{"action": action, "number": number,
		"pull_request": map[string]any{"number": number, "user": map[string]any{"login": "bob"},
			"head": map[string]any{"ref": "feature", "sha": head, "repo": repo},
			"base": map[string]any{"ref": "main", "repo": repo}},
		"repository": repo, "sender": map[string]any{"login": "bob"}})
	if _, err := webhook.ParsePullRequest("github", payload); err != nil {
		t.Fatalf("test payload is not a GitHub pull request: %v", err)
	}
	return payload
}

// TestPullRequestBuildAndSnapshot sends a signed GitHub pull_request
// delivery to the real server: the pull request's head (on a branch that
// is not the component's) is built, and the build is a pull request's all
// the way: the component keeps its branch build's state, the Snapshot is
// labelled pull_request and the Application's candidate list keeps the
// branch build's artifact. `kiln build --pull-request` makes the same kind
// of build by hand.
func TestPullRequestBuildAndSnapshot(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	url, commit := gitRepo(t, map[string]string{"Makefile": makefile, "VERSION": "1\n"})
	f, a := buildFactory(t, Config{})
	hookSecret(a)
	a.must(201, "POST", nsPath("default", "components"), scriptComponent("hello", url, map[string]any{"webhookSecret": "hook"}))
	push := waitBuild(t, a, "hello", 1)
	if str(push, "status", "phase") != "Succeeded" {
		t.Fatalf("branch build: %v", push["status"])
	}
	pushDigest := str(push, "status", "artifact", "digest")
	gitAt(t, url, "checkout", "-q", "-b", "feature")
	head := commit(map[string]string{"VERSION": "2\n"})
	gitAt(t, url, "checkout", "-q", "main")

	payload := githubPullRequest(t, url, "opened", 5, head)
	sign := func(p []byte, key string) []string {
		return []string{"X-GitHub-Event", "pull_request", "X-Hub-Signature-256", "sha256=" + webhook.Sign(p, []byte(key))}
	}
	if bad := a.do("POST", "/hooks/github", payload, sign(payload, "wrong")...); bad.Code != 401 {
		t.Fatalf("bad signature: %d %s", bad.Code, bad.Body)
	}
	closed := githubPullRequest(t, url, "closed", 5, head)
	if r := a.do("POST", "/hooks/github", closed, sign(closed, "s3cret")...); r.Code != 200 || !strings.Contains(string(r.Body), "ignored") {
		t.Fatalf("closed pull request: %d %s", r.Code, r.Body)
	}
	for range 2 { // the redelivery builds nothing more
		if ok := a.do("POST", "/hooks/github", payload, sign(payload, "s3cret")...); ok.Code != 202 {
			t.Fatalf("signed pull request: %d %s", ok.Code, ok.Body)
		}
	}
	b := waitBuild(t, a, "hello", 2)
	name := str(b, "metadata", "name")
	if name != "hello-pr5-"+head[:12] || str(b, "status", "phase") != "Succeeded" || str(b, "status", "commit") != head ||
		str(b, "spec", "reason", "type") != "pull-request" || str(b, "spec", "reason", "by") != "webhook:github" ||
		str(b, "metadata", "labels", "pac.test.appstudio.openshift.io/event-type") != "pull_request" ||
		str(b, "metadata", "labels", "pac.test.appstudio.openshift.io/pull-request") != "5" {
		t.Fatalf("pull request build %s: %v %v %v", name, b["metadata"], b["spec"], b["status"])
	}
	if n := len(a.must(200, "GET", nsPath("default", "builds"), nil).Obj["items"].([]any)); n != 2 {
		t.Fatalf("%d builds; want the branch's and the pull request's", n)
	}
	if got := pullFile(t, f, str(b, "status", "artifact", "repository")+"@"+str(b, "status", "artifact", "digest"), "out/greeting.txt"); got != "hello from 2\n" {
		t.Fatalf("pull request artifact: %q", got)
	}

	snap := waitObject(t, a, nsPath("default", "snapshots")+"/greet-"+name)
	if str(snap, "metadata", "labels", "pac.test.appstudio.openshift.io/event-type") != "pull_request" {
		t.Fatalf("pull request snapshot labels %v", snap["metadata"])
	}
	branchState(t, a, str(push, "status", "commit"), pushDigest, str(push, "metadata", "name"))

	// By hand: the same kind of build.
	out, err := kilnCLI(t, f)("build", "hello", "-n", "default", "--revision", head, "--pull-request", "6", "--wait")
	if err != nil {
		t.Fatalf("kiln build --pull-request: %v\n%s", err, out)
	}
	b3 := waitBuild(t, a, "hello", 3)
	if str(b3, "metadata", "labels", "pac.test.appstudio.openshift.io/pull-request") != "6" || str(b3, "spec", "reason", "type") != "pull-request" {
		t.Fatalf("kiln build --pull-request: %v %v", b3["metadata"], b3["spec"])
	}
	waitObject(t, a, nsPath("default", "snapshots")+"/greet-"+str(b3, "metadata", "name"))
	branchState(t, a, "", pushDigest, str(push, "metadata", "name"))
}

// branchState checks that component hello and application greet still
// show the branch build: commit (when given), artifact and candidate.
func branchState(t *testing.T, a api, commit, digest, build string) {
	t.Helper()
	c := a.must(200, "GET", nsPath("default", "components")+"/hello", nil).Obj
	if (commit != "" && str(c, "status", "lastBuiltCommit") != commit) || str(c, "status", "latestArtifact") != digest {
		t.Fatalf("component status changed by a pull request build: %v", c["status"])
	}
	app := a.must(200, "GET", nsPath("default", "applications")+"/greet", nil).Obj
	cands, _ := app["status"].(map[string]any)["candidates"].([]any)
	if len(cands) != 1 || str(cands[0].(map[string]any), "build") != build ||
		!strings.HasSuffix(str(cands[0].(map[string]any), "containerImage"), "@"+digest) {
		t.Fatalf("candidates changed by a pull request build: %v", cands)
	}
}

// waitObject waits for the object at path to exist.
func waitObject(t *testing.T, a api, path string) map[string]any {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if r := a.do("GET", path, nil); r.Code == 200 {
			return r.Obj
		}
	}
	t.Fatalf("%s never appeared", path)
	return nil
}

// TestForkPullRequestsNeedAnAllowedAuthor: a pull request from a fork is
// built only for an author listed in spec.build.pullRequestAuthors.
func TestForkPullRequestsNeedAnAllowedAuthor(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	url, commit := gitRepo(t, map[string]string{"Makefile": makefile, "VERSION": "1\n"})
	_, a := buildFactory(t, Config{})
	hookSecret(a)
	a.must(201, "POST", nsPath("default", "components"), scriptComponent("hello", url, map[string]any{"webhookSecret": "hook",
		"pullRequestAuthors": []any{"alice"}}))
	waitBuild(t, a, "hello", 1)
	gitAt(t, url, "checkout", "-q", "-b", "feature")
	head := commit(map[string]string{"VERSION": "2\n"})
	gitAt(t, url, "checkout", "-q", "main")
	fork := func(number int, author string) {
		base := map[string]any{"full_name": "local/hello", "clone_url": url, "html_url": url}
		theirs := map[string]any{"full_name": author + "/hello", "clone_url": url, "html_url": url}
		payload, _ := json.Marshal(map[string]any{"action": "opened", "number": number,
			"pull_request": map[string]any{"number": number, "user": map[string]any{"login": author},
				"head": map[string]any{"ref": "feature", "sha": head, "repo": theirs},
				"base": map[string]any{"ref": "main", "repo": base}},
			"repository": base, "sender": map[string]any{"login": author}})
		r := a.do("POST", "/hooks/github", payload, "X-GitHub-Event", "pull_request", "X-Hub-Signature-256", "sha256="+webhook.Sign(payload, []byte("s3cret")))
		if r.Code != 202 {
			t.Fatalf("fork pull request #%d: %d %s", number, r.Code, r.Body)
		}
	}
	fork(8, "mallory")
	fork(9, "alice")
	names := map[string]bool{}
	eventually(t, "alice's pull request built", func() bool {
		for _, it := range a.must(200, "GET", nsPath("default", "builds"), nil).Obj["items"].([]any) {
			names[str(it.(map[string]any), "metadata", "name")] = true
		}
		for n := range names {
			if strings.HasPrefix(n, "hello-pr9-") {
				return true
			}
		}
		return false
	})
	for n := range names {
		if strings.HasPrefix(n, "hello-pr8-") {
			t.Fatalf("a fork's pull request by an author not allowed was built: %s", n)
		}
	}
}
