package server

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/internal/webhook"
)

// hookSecret creates the Secret "hook" whose webhook-secret, s3cret,
// components name as their webhookSecret.
func hookSecret(a api) {
	a.t.Helper()
	a.must(201, "POST", "/api/v1/namespaces/default/secrets", map[string]any{"metadata": map[string]any{"name": "hook"},
		"stringData": map[string]any{"webhook-secret": "s3cret"}})
}

// TestWebhookPushTriggersBuild sends a GitHub push event, signed with the
// component's webhook secret, to the real server: a build of the new commit
// is created. A bad signature is refused and creates nothing.
func TestWebhookPushTriggersBuild(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	url, commit := gitRepo(t, map[string]string{"Makefile": makefile, "VERSION": "1\n"})
	_, a := buildFactory(t, Config{})
	hookSecret(a)
	a.must(201, "POST", nsPath("default", "components"), scriptComponent("hello", url, map[string]any{"webhookSecret": "hook"}))
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
