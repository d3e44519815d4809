package server

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/internal/webhook"
)

// TestWebhookPushTriggersBuild sends a GitHub push event, signed with the
// component's webhook secret, to the real server: a build of the new commit
// is created. A bad signature is refused and creates nothing.
func TestWebhookPushTriggersBuild(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	url, commit := gitRepo(t, map[string]string{"Makefile": makefile, "VERSION": "1\n"})
	f, err := Start(context.Background(), Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Log: quietLog(),
		AllowFileSources: true, RegistryNoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Stop() })
	a := api{t: t, base: f.URL, token: f.AdminToken, hc: f.HTTPClient()}
	a.must(201, "POST", "/api/v1/namespaces/default/secrets", map[string]any{"metadata": map[string]any{"name": "hook"},
		"stringData": map[string]any{"webhook-secret": "s3cret"}})
	a.must(201, "POST", nsPath("default", "applications"), app("greet"))
	comp := component("hello", "greet")
	comp["spec"].(map[string]any)["source"].(map[string]any)["git"].(map[string]any)["url"] = url
	comp["spec"].(map[string]any)["build"] = map[string]any{"pipelineRef": "script", "pollInterval": "0s", "webhookSecret": "hook",
		"params": []any{map[string]any{"name": "image", "value": "host"}, map[string]any{"name": "outputs", "value": `["out"]`}}}
	a.must(201, "POST", nsPath("default", "components"), comp)
	waitBuild(t, a, "hello", 1)

	next := commit(map[string]string{"VERSION": "2\n"})
	payload, _ := json.Marshal(map[string]any{"ref": "refs/heads/main", "before": strings.Repeat("0", 40), "after": next,
		"repository": map[string]any{"full_name": "local/hello", "clone_url": url, "html_url": url},
		"pusher":     map[string]any{"name": "alice"}, "commits": []any{map[string]any{"id": next}}})
	if _, err := webhook.ParsePush("github", payload); err != nil {
		t.Fatalf("test payload is not a GitHub push: %v", err)
	}
	bad := a.do("POST", "/hooks/github", payload, "X-GitHub-Event", "push", "X-Hub-Signature-256", "sha256="+webhook.Sign(payload, []byte("wrong")))
	if bad.Code != 401 {
		t.Fatalf("bad signature: %d %s", bad.Code, bad.Body)
	}
	if n := len(a.must(200, "GET", nsPath("default", "builds"), nil).Obj["items"].([]any)); n != 1 {
		t.Fatalf("a rejected webhook created builds: %d", n)
	}
	ok := a.do("POST", "/hooks/github", payload, "X-GitHub-Event", "push", "X-Hub-Signature-256", "sha256="+webhook.Sign(payload, []byte("s3cret")))
	if ok.Code != 202 {
		t.Fatalf("signed push: %d %s", ok.Code, ok.Body)
	}
	b := waitBuild(t, a, "hello", 2)
	if str(b, "status", "commit") != next || str(b, "spec", "reason", "by") != "webhook:github" || str(b, "spec", "reason", "type") != "source-change" {
		t.Fatalf("webhook build: commit %s reason %v", str(b, "status", "commit"), b["spec"])
	}
}
