package server

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/webhook"
)

// TestPushOfSeveralRepositoriesIsOneGroup: webhook pushes to a library and
// to the program that needs it, arriving together, become one BuildGroup
// that builds the library first and gives the program its new artifact —
// not two independent builds racing (and a second rebuild of the
// program when the library's output changes).
func TestPushOfSeveralRepositoriesIsOneGroup(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	libURL, commitLib := gitRepo(t, map[string]string{".kiln/capabilities.yaml": "provides: [libx]\n", "VERSION": "1\n"})
	appURL, commitApp := gitRepo(t, map[string]string{".kiln/capabilities.yaml": "requires: [libx]\n", "VERSION": "1\n"})
	f, a := buildFactory(t, Config{})
	hookSecret(a)
	script := map[string]string{
		"lib": "mkdir -p out; cp VERSION out/",
		"app": "mkdir -p out; cat VERSION /kiln/deps/lib/out/VERSION > out/versions",
	}
	for name, url := range map[string]string{"lib": libURL, "app": appURL} {
		a.must(201, "POST", nsPath("default", "components"), scriptComponent(name, url, map[string]any{"webhookSecret": "hook",
			"params": []any{map[string]any{"name": "image", "value": "host"}, map[string]any{"name": "outputs", "value": `["out"]`},
				map[string]any{"name": "script", "value": script[name]}}}))
	}
	// Applied together, the two new components were built as one group,
	// the library first.
	if b := waitBuild(t, a, "app", 1); str(b, "status", "phase") != "Succeeded" || str(b, "spec", "group") == "" {
		t.Fatalf("first build of app: %v %v", b["spec"], b["status"])
	}
	groups := a.must(200, "GET", nsPath("default", "buildgroups"), nil).Obj["items"].([]any)
	before := len(groups)

	push := func(url, commit string) {
		payload, _ := json.Marshal(map[string]any{"ref": "refs/heads/main", "before": strings.Repeat("0", 40), "after": commit,
			"repository": map[string]any{"clone_url": url, "html_url": url}, "commits": []any{map[string]any{"id": commit}}})
		if r := a.do("POST", "/hooks/github", payload, "X-GitHub-Event", "push", "X-Hub-Signature-256", "sha256="+webhook.Sign(payload, []byte("s3cret"))); r.Code != 202 {
			t.Fatalf("push: %d %s", r.Code, r.Body)
		}
	}
	push(libURL, commitLib(map[string]string{"VERSION": "2\n"}))
	push(appURL, commitApp(map[string]string{"VERSION": "2\n"}))
	app := waitBuild(t, a, "app", 2)
	lib := latestBuild(t, a, "lib")
	if str(app, "spec", "group") == "" || str(app, "spec", "group") != str(lib, "spec", "group") {
		t.Fatalf("the two pushes were not built as one group: app %v, lib %v", app["spec"], lib["spec"])
	}
	grp := waitGroup(t, a, str(app, "spec", "group"))
	if str(grp, "status", "phase") != "Succeeded" || !strings.Contains(str(grp, "spec", "reason", "message"), "2 components changed together") {
		t.Fatalf("group: %v %v", grp["spec"], grp["status"])
	}
	if got := pullFile(t, f, str(app, "status", "artifact", "repository")+"@"+str(app, "status", "artifact", "digest"), "out/versions"); got != "2\n2\n" {
		t.Fatalf("app built against the old library: %q", got)
	}
	if n := len(a.must(200, "GET", nsPath("default", "buildgroups"), nil).Obj["items"].([]any)); n != before+1 {
		t.Fatalf("%d groups for one push of two repositories", n-before)
	}
	if counts := buildCounts(t, a); counts["app"] != 2 || counts["lib"] != 2 {
		t.Fatalf("builds per component: %v (want 2 each: no second rebuild of app)", counts)
	}
}

// TestPendingCommitSurvivesARestart: a pushed commit still waiting in its
// batch window when Kiln stops is built after the restart.
func TestPendingCommitSurvivesARestart(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	url, commit := gitRepo(t, map[string]string{"VERSION": "1\n"})
	dir := t.TempDir()
	start := func(window time.Duration) (*Factory, api) {
		f, err := Start(context.Background(), Config{DataDir: dir, Listen: "127.0.0.1:0", Log: quietLog(),
			AllowFileSources: true, RegistryNoSync: true, BatchWindow: window})
		if err != nil {
			t.Fatal(err)
		}
		return f, api{t: t, base: f.URL, token: f.AdminToken, hc: f.HTTPClient()}
	}
	f, a := start(time.Second)
	a.must(201, "POST", nsPath("default", "applications"), app("greet"))
	hookSecret(a)
	a.must(201, "POST", nsPath("default", "components"), scriptComponent("hello", url, map[string]any{"webhookSecret": "hook"}))
	waitBuild(t, a, "hello", 1)
	_ = f.Stop()

	f, a = start(time.Hour) // the push will wait: Kiln stops before building it
	next := commit(map[string]string{"VERSION": "2\n"})
	payload, _ := json.Marshal(map[string]any{"ref": "refs/heads/main", "before": strings.Repeat("0", 40), "after": next,
		"repository": map[string]any{"clone_url": url, "html_url": url}, "commits": []any{map[string]any{"id": next}}})
	if r := a.do("POST", "/hooks/github", payload, "X-GitHub-Event", "push", "X-Hub-Signature-256", "sha256="+webhook.Sign(payload, []byte("s3cret"))); r.Code != 202 {
		t.Fatalf("push: %d %s", r.Code, r.Body)
	}
	eventually(t, "pending commit recorded", func() bool {
		return str(a.must(200, "GET", nsPath("default", "components")+"/hello", nil).Obj, "status", "pendingCommit") == next
	})
	_ = f.Stop()

	f, a = start(time.Second)
	t.Cleanup(func() { _ = f.Stop() })
	if b := waitBuild(t, a, "hello", 2); str(b, "status", "commit") != next {
		t.Fatalf("after the restart: built %s, want the pending %s", str(b, "status", "commit"), next)
	}
}
