package ui_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/internal/attest"
	"github.com/kilnbuild/kiln/internal/cli"
	"github.com/kilnbuild/kiln/internal/demo"
	"github.com/kilnbuild/kiln/internal/server"
)

// e2eEnv is the factory's content: the demo (namespace demo, alice its
// admin) plus greet-app, a slow component that requires libgreet (its log
// is read while it runs; it is rebuilt when libgreet's output changes, so
// its "why" chain leads to libgreet's commit), a release plan whose policy
// fails, and another tenant (tenant-b, bob views it) that alice must never
// see and that sees nothing of demo.
type e2eEnv struct {
	f            *server.Factory
	dir          string
	aliceToken   string
	bobToken     string // tenant-b's viewer: his traces of demo's artifacts are cut
	demoManifest string
}

const setupManifest = `apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: kiln.dev/v1alpha1
kind: RoleBinding
metadata: {name: alice-admin, namespace: demo}
spec:
  role: admin
  subjects: [{kind: User, name: alice}]
---
apiVersion: v1
kind: Namespace
metadata: {name: tenant-b}
---
apiVersion: kiln.dev/v1alpha1
kind: RoleBinding
metadata: {name: bob-viewer, namespace: tenant-b}
spec:
  role: viewer
  subjects: [{kind: User, name: bob}]
---
apiVersion: kiln.dev/v1alpha1
kind: Application
metadata: {name: bobapp-confidential, namespace: tenant-b}
spec: {description: "tenant b's own"}
---
apiVersion: kiln.dev/v1alpha1
kind: Component
metadata: {name: bob-secret-widget, namespace: tenant-b}
spec:
  application: bobapp-confidential
  source: {git: {url: %q}}
  build:
    pipelineRef: script
    params:
      - {name: image, value: host}
      - {name: script, value: "mkdir -p out && cp widget.txt out/"}
      - {name: outputs, value: '["out"]'}
`

const extraManifest = `---
apiVersion: kiln.dev/v1alpha1
kind: Component
metadata: {name: greet-app, namespace: demo}
spec:
  application: greet
  source: {git: {url: %q}}
  build:
    pipelineRef: script
    pollInterval: 5s
    requires: [libgreet]
    params:
      - {name: image, value: host}
      - {name: script, value: "for i in $(seq 1 30); do echo tick $i; sleep 0.5; done; mkdir -p out; cp app.txt out/"}
      - {name: outputs, value: '["out"]'}
---
apiVersion: v1
kind: Namespace
metadata: {name: demo-strict}
spec: {type: managed}
---
apiVersion: kiln.dev/v1alpha1
kind: Policy
metadata: {name: strict, namespace: demo-strict}
spec:
  sources:
    - name: kiln
      policy: [kiln://rules]
      config: {include: ["@minimal"]}
      ruleData: {required_test_scenarios: [smoke, load-test]}
---
apiVersion: kiln.dev/v1alpha1
kind: ReleasePlanAdmission
metadata: {name: greet, namespace: demo-strict}
spec:
  origin: demo
  applications: [greet]
  policy: strict
  pipeline:
    pipelineRef:
      resolver: catalog
      params: [{name: name, value: publish-static}]
  data: {static: {path: greet-strict}}
---
apiVersion: kiln.dev/v1alpha1
kind: ReleasePlan
metadata: {name: strict, namespace: demo}
spec: {application: greet, target: demo-strict}
`

func setUp(t *testing.T, ctx context.Context, f *server.Factory, dataDir string) *e2eEnv {
	t.Helper()
	dir := filepath.Join(dataDir, "demo")
	urls, err := demo.CreateRepos(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	app := gitRepo(t, ctx, filepath.Join(dir, "greet-app"), "app.txt", "greet-app: a slow build that requires libgreet\n")
	widget := gitRepo(t, ctx, filepath.Join(dir, "bob-widget"), "widget.txt", "tenant b: confidential widget\n")
	env := &e2eEnv{f: f, dir: dir}
	env.aliceToken = userToken(t, f, "alice")
	env.bobToken = userToken(t, f, "bob")
	env.apply(t, ctx, strings.Replace(setupManifest, "%q", `"`+widget+`"`, 1))
	env.demoManifest = demo.Manifest(urls) + strings.Replace(extraManifest, "%q", `"`+app+`"`, 1)
	return env
}

func gitRepo(t *testing.T, ctx context.Context, dir, file, content string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-q", "-m", "Initial import"}} {
		if err := demo.Git(ctx, dir, args...); err != nil {
			t.Fatal(err)
		}
	}
	return "file://" + dir
}

func (e *e2eEnv) apply(t *testing.T, ctx context.Context, manifest string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "m.yaml")
	if err := os.WriteFile(p, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cfg := filepath.Join(e.dirData(), server.ClientConfigName)
	if err := cli.ApplyFiles(ctx, cfg, []string{p}, &out, &out); err != nil {
		t.Fatalf("apply: %v\n%s", err, out.String())
	}
}

func (e *e2eEnv) dirData() string { return filepath.Dir(e.dir) }

// changeLibrary commits a change to libgreet that changes its output, so
// greet-app is rebuilt because of it.
func (e *e2eEnv) changeLibrary(t *testing.T, ctx context.Context) {
	t.Helper()
	repo := filepath.Join(e.dir, "libgreet")
	fh, err := os.OpenFile(filepath.Join(repo, "greet.c"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fh.WriteString("int greet_version(void) { return 2; }\n")
	_ = fh.Close()
	if err := demo.Git(ctx, repo, "commit", "-qam", "greet_version"); err != nil {
		t.Fatal(err)
	}
}

// forbidden lists what alice must never receive: tenant-b's object names,
// uids and artifact digests.
func (e *e2eEnv) forbidden(t *testing.T, f *server.Factory) []string {
	out := []string{"bobapp-confidential", "bob-secret-widget", "confidential widget"}
	for _, plural := range []string{"builds", "components", "applications", "buildgroups", "snapshots"} {
		var list struct {
			Items []struct {
				Metadata struct{ Name, UID string }
				Status   struct {
					Artifact *struct{ Digest string }
				}
			}
		}
		adminGet(t, f, "/apis/kiln.dev/v1alpha1/namespaces/tenant-b/"+plural, &list)
		for _, it := range list.Items {
			out = append(out, it.Metadata.Name, it.Metadata.UID)
			if it.Status.Artifact != nil && it.Status.Artifact.Digest != "" {
				out = append(out, it.Status.Artifact.Digest)
			}
		}
	}
	return dedupe(out)
}

func dedupe(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if x != "" && !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func adminGet(t *testing.T, f *server.Factory, path string, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", f.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+f.AdminToken)
	res, err := f.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, res.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatal(err)
	}
}

func adminPost(t *testing.T, f *server.Factory, path string, body any) map[string]any {
	t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", f.URL+path, bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+f.AdminToken)
	req.Header.Set("Content-Type", "application/json")
	res, err := f.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	raw, _ = io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		t.Fatalf("POST %s: %d %s", path, res.StatusCode, raw)
	}
	_ = json.Unmarshal(raw, &out)
	return out
}

func userToken(t *testing.T, f *server.Factory, user string) string {
	adminPost(t, f, "/apis/kiln.dev/v1alpha1/users", map[string]any{"metadata": map[string]any{"name": user}, "spec": map[string]any{"displayName": user}})
	tok, _ := adminPost(t, f, "/apis/kiln.dev/v1alpha1/tokenrequests", map[string]any{"subject": user})["token"].(string)
	return tok
}

// importUnverified imports each succeeded greet-cli build's own provenance
// statement (the copy Kiln keeps), in an unsigned DSSE envelope, for its
// artifact without a key (as `kiln trace import` without --key):
// the index records the claims as unverified, "no key to verify it with",
// beside Kiln's own verified edges, and the trace view must show them so.
func (e *e2eEnv) importUnverified(t *testing.T, f *server.Factory) {
	t.Helper()
	var list struct {
		Items []struct {
			Metadata struct{ Name string }
			Spec     struct{ Component string }
			Status   struct {
				Phase    string
				Artifact *struct{ Repository, Digest string }
			}
		}
	}
	adminGet(t, f, "/apis/kiln.dev/v1alpha1/namespaces/demo/builds", &list)
	n := 0
	for _, b := range list.Items {
		if b.Spec.Component != "greet-cli" || b.Status.Phase != "Succeeded" || b.Status.Artifact == nil {
			continue
		}
		res := importWithoutKey(t, f, b.Metadata.Name, b.Status.Artifact.Repository+"@"+b.Status.Artifact.Digest)
		if v, _ := res["unverified"].(float64); v != 1 {
			t.Fatalf("importing %s's provenance without a key: %v", b.Metadata.Name, res)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no succeeded greet-cli build to import the provenance of")
	}
}

// importWithoutKey posts build's kept provenance statement, in an unsigned
// DSSE envelope, as an import for artifact with no key.
func importWithoutKey(t *testing.T, f *server.Factory, build, artifact string) map[string]any {
	t.Helper()
	var prov json.RawMessage
	adminGet(t, f, "/apis/kiln.dev/v1alpha1/namespaces/demo/builds/"+build+"/provenance", &prov)
	env := map[string]any{"payloadType": "application/vnd.in-toto+json", "payload": base64.StdEncoding.EncodeToString(prov), "signatures": []any{}}
	return adminPost(t, f, "/apis/kiln.dev/v1alpha1/trace/imports", map[string]any{
		"namespace": "demo", "artifact": artifact,
		"attestations": []map[string]any{{"predicateType": attest.PredicateSLSA, "dsse": env}},
	})
}
