package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/client"
)

func setup(t *testing.T) (*Factory, api) {
	t.Helper()
	f := testFactory(t, "")
	a := api{t: t, base: f.URL, token: f.AdminToken, hc: f.HTTPClient()}
	a.must(201, "POST", "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": "team-a"}})
	return f, a
}

func app(name string) map[string]any {
	return map[string]any{"apiVersion": "kiln.dev/v1alpha1", "kind": "Application", "metadata": map[string]any{"name": name}}
}

func component(name, app string) map[string]any {
	return map[string]any{"apiVersion": "kiln.dev/v1alpha1", "kind": "Component",
		"metadata": map[string]any{"name": name},
		"spec":     map[string]any{"application": app, "source": map[string]any{"git": map[string]any{"url": "https://example.com/" + name + ".git"}}}}
}

func TestBootstrapWritesClientConfigAndSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f, err := Start(t.Context(), Config{DataDir: dir, Listen: "127.0.0.1:0", Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := client.LoadConfig(filepath.Join(dir, ClientConfigName))
	if err != nil || cfg.Token != f.AdminToken || cfg.Server != f.URL || cfg.Namespace != "default" {
		t.Fatalf("client config = %+v, %v", cfg, err)
	}
	a := api{t: t, base: f.URL, token: f.AdminToken, hc: f.HTTPClient()}
	created := a.must(201, "POST", nsPath("default", "applications"), app("keep"))
	if err := f.Stop(); err != nil {
		t.Fatal(err)
	}
	f2 := testFactory(t, dir)
	if f2.AdminToken != f.AdminToken {
		t.Fatal("restart issued a new admin token instead of reusing the configured one")
	}
	a2 := api{t: t, base: f2.URL, token: f2.AdminToken, hc: f2.HTTPClient()}
	got := a2.must(200, "GET", nsPath("default", "applications")+"/keep", nil)
	if str(got.Obj, "metadata", "uid") != str(created.Obj, "metadata", "uid") {
		t.Fatal("object changed across restart")
	}
	next := a2.must(201, "POST", nsPath("default", "applications"), app("after"))
	if rvOf(next.Obj) <= rvOf(created.Obj) {
		t.Fatalf("resourceVersion went backwards after restart: %d <= %d", rvOf(next.Obj), rvOf(created.Obj))
	}
}

func rvOf(o map[string]any) int64 {
	var n int64
	_ = json.Unmarshal([]byte(str(o, "metadata", "resourceVersion")), &n)
	return n
}

func TestAuthenticationRequired(t *testing.T) {
	t.Parallel()
	f := testFactory(t, "")
	for _, tok := range []string{"", "nonsense", "kiln_000000000000_wrong"} {
		a := api{t: t, base: f.URL, token: tok, hc: f.HTTPClient()}
		r := a.do("GET", nsPath("default", "applications"), nil)
		if r.Code != 401 || str(r.Obj, "reason") != "Unauthorized" {
			t.Errorf("token %q: got %d %s, want 401 Unauthorized", tok, r.Code, r.Body)
		}
	}
}

func TestCreateValidatesWithFieldPaths(t *testing.T) {
	t.Parallel()
	_, a := setup(t)
	bad := component("c1", "missing-app")
	r := a.must(422, "POST", nsPath("team-a", "components"), bad)
	if !strings.Contains(string(r.Body), "spec.application") || !strings.Contains(string(r.Body), "missing-app") {
		t.Fatalf("bad reference error does not name the field: %s", r.Body)
	}
	a.must(201, "POST", nsPath("team-a", "applications"), app("greet"))
	unknown := component("c1", "greet")
	unknown["spec"].(map[string]any)["source"].(map[string]any)["git"].(map[string]any)["urll"] = "x"
	r = a.do("POST", nsPath("team-a", "components"), unknown)
	if r.Code < 400 || !strings.Contains(string(r.Body), "spec.source.git.urll") {
		t.Fatalf("unknown field not rejected with its path: %d %s", r.Code, r.Body)
	}
	badURL := component("c1", "greet")
	badURL["spec"].(map[string]any)["source"].(map[string]any)["git"].(map[string]any)["url"] = "htp://x"
	r = a.must(422, "POST", nsPath("team-a", "components"), badURL)
	if !strings.Contains(string(r.Body), "spec.source.git.url") {
		t.Fatalf("bad git URL error lacks field path: %s", r.Body)
	}
	a.must(404, "POST", nsPath("nowhere", "applications"), app("x"))
}

func TestOptimisticConcurrencyGenerationAndStatus(t *testing.T) {
	t.Parallel()
	_, a := setup(t)
	a.must(201, "POST", nsPath("team-a", "applications"), app("greet"))
	c := a.must(201, "POST", nsPath("team-a", "components"), component("cli", "greet")).Obj
	if str(c, "metadata", "generation") != "1" {
		t.Fatalf("generation = %s, want 1", str(c, "metadata", "generation"))
	}
	if len(c["metadata"].(map[string]any)["ownerReferences"].([]any)) != 1 {
		t.Fatal("component has no owner reference to its application")
	}
	path := nsPath("team-a", "components") + "/cli"
	// Label change: new resourceVersion, same generation.
	c["metadata"].(map[string]any)["labels"] = map[string]any{"tier": "cli"}
	c2 := a.must(200, "PUT", path, c).Obj
	if str(c2, "metadata", "generation") != "1" || rvOf(c2) == rvOf(c) {
		t.Fatalf("label change: generation %s rv %d->%d", str(c2, "metadata", "generation"), rvOf(c), rvOf(c2))
	}
	// Stale update: conflict.
	c["spec"].(map[string]any)["source"].(map[string]any)["git"].(map[string]any)["revision"] = "dev"
	r := a.must(409, "PUT", path, c)
	if str(r.Obj, "reason") != "Conflict" {
		t.Fatalf("stale update reason = %s", str(r.Obj, "reason"))
	}
	// Spec change on the fresh version bumps generation; status from the user is ignored.
	c2["spec"].(map[string]any)["source"].(map[string]any)["git"].(map[string]any)["revision"] = "dev"
	c2["status"] = map[string]any{"lastBuiltCommit": "forged"}
	c3 := a.must(200, "PUT", path, c2).Obj
	if str(c3, "metadata", "generation") != "2" || str(c3, "status", "lastBuiltCommit") != "" {
		t.Fatalf("spec update: generation %s, status %v", str(c3, "metadata", "generation"), c3["status"])
	}
	// Status sub-resource (system only) writes status and nothing else.
	c3["status"] = map[string]any{"lastBuiltCommit": "abc123", "observedGeneration": 2}
	c3["spec"].(map[string]any)["source"].(map[string]any)["git"].(map[string]any)["revision"] = "ignored"
	c4 := a.must(200, "PUT", path+"/status", c3).Obj
	if str(c4, "status", "lastBuiltCommit") != "abc123" || str(c4, "spec", "source", "git", "revision") != "dev" {
		t.Fatalf("status update leaked or lost: %v", c4)
	}
	// Re-sending the same object is a no-op: no new resourceVersion.
	c5 := a.must(200, "PUT", path, c4).Obj
	if rvOf(c5) != rvOf(c4) {
		t.Fatalf("no-op update bumped resourceVersion %d -> %d", rvOf(c4), rvOf(c5))
	}
}

func TestMergePatchAndNoOp(t *testing.T) {
	t.Parallel()
	_, a := setup(t)
	a.must(201, "POST", nsPath("team-a", "applications"), app("greet"))
	path := nsPath("team-a", "applications") + "/greet"
	patch := `{"metadata":{"labels":{"team":"a"}},"spec":{"description":"demo"}}`
	p1 := a.must(200, "PATCH", path, patch, "Content-Type", "application/merge-patch+json").Obj
	if str(p1, "metadata", "labels", "team") != "a" || str(p1, "spec", "description") != "demo" {
		t.Fatalf("patch not applied: %v", p1)
	}
	p2 := a.must(200, "PATCH", path, patch, "Content-Type", "application/merge-patch+json").Obj
	if rvOf(p2) != rvOf(p1) {
		t.Fatal("identical patch bumped resourceVersion")
	}
	r := a.must(415, "PATCH", path, patch, "Content-Type", "application/apply-patch+yaml")
	if !strings.Contains(str(r.Obj, "message"), "merge-patch") {
		t.Fatalf("unsupported patch message unhelpful: %s", r.Body)
	}
}

// TestPatchBodiesAreStrict: a patch with a key given twice is refused
// naming the key (it is not applied with the last value), in a merge patch
// and inside a JSON patch's operations, and a body over the limit is
// refused whole instead of being applied cut short.
func TestPatchBodiesAreStrict(t *testing.T) {
	t.Parallel()
	_, a := setup(t)
	a.must(201, "POST", nsPath("team-a", "applications"), app("greet"))
	path := nsPath("team-a", "applications") + "/greet"
	r := a.must(400, "PATCH", path, `{"metadata":{"labels":{"team":"a","team":"b"}}}`, "Content-Type", "application/merge-patch+json")
	if !strings.Contains(str(r.Obj, "message"), "metadata.labels.team: duplicate field") {
		t.Fatalf("duplicate in a merge patch: %s", r.Body)
	}
	r = a.must(400, "PATCH", path, `[{"op":"add","path":"/metadata/labels","value":{"x":"1"},"value":{"x":"2"}}]`,
		"Content-Type", "application/json-patch+json")
	if !strings.Contains(str(r.Obj, "message"), "[0].value: duplicate field") {
		t.Fatalf("duplicate in a JSON patch: %s", r.Body)
	}
	big := `{"spec":{"description":"` + strings.Repeat("x", 4<<20) + `"}}`
	a.must(413, "PATCH", path, big, "Content-Type", "application/merge-patch+json")
	if got := a.must(200, "GET", path, nil).Obj; str(got, "metadata", "labels", "team") != "" {
		t.Fatalf("a refused patch was applied: %v", got["metadata"])
	}
}

func TestFinalizersAndCascadingDelete(t *testing.T) {
	t.Parallel()
	_, a := setup(t)
	a.must(201, "POST", nsPath("team-a", "applications"), app("greet"))
	a.must(201, "POST", nsPath("team-a", "components"), component("cli", "greet"))
	a.must(201, "POST", nsPath("team-a", "components"), component("lib", "greet"))
	// A finalizer holds the component after delete.
	lib := nsPath("team-a", "components") + "/lib"
	a.must(200, "PATCH", lib, `{"metadata":{"finalizers":["example.com/cleanup"]}}`, "Content-Type", "application/merge-patch+json")
	held := a.must(200, "DELETE", lib, nil).Obj
	if str(held, "metadata", "deletionTimestamp") == "" {
		t.Fatalf("delete with finalizer did not mark deletion: %v", held)
	}
	a.must(200, "GET", lib, nil)
	a.must(200, "PATCH", lib, `{"metadata":{"finalizers":null}}`, "Content-Type", "application/merge-patch+json")
	a.must(404, "GET", lib, nil)
	// Deleting the application cascades to its components.
	a.must(200, "DELETE", nsPath("team-a", "applications")+"/greet", nil)
	eventually(t, "components deleted with their application", func() bool {
		return a.do("GET", nsPath("team-a", "components")+"/cli", nil).Code == 404
	})
}

func TestNamespaceDeletionEmptiesIt(t *testing.T) {
	t.Parallel()
	_, a := setup(t)
	a.must(201, "POST", nsPath("team-a", "applications"), app("greet"))
	a.must(200, "DELETE", "/api/v1/namespaces/team-a", nil)
	r := a.do("POST", nsPath("team-a", "applications"), app("late"))
	if r.Code != 403 && r.Code != 404 {
		t.Fatalf("create in terminating namespace: %d %s", r.Code, r.Body)
	}
	eventually(t, "namespace removed after emptying", func() bool {
		return a.do("GET", "/api/v1/namespaces/team-a", nil).Code == 404
	})
	a.must(404, "GET", nsPath("team-a", "applications")+"/greet", nil)
}

func TestSecretsNeverReturnedAndEncryptedAtRest(t *testing.T) {
	t.Parallel()
	f, a := setup(t)
	const value = "s3cr3t-value-visible-nowhere"
	sec := map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "creds"},
		"stringData": map[string]any{"password": value}}
	created := a.must(201, "POST", "/api/v1/namespaces/team-a/secrets", sec)
	got := a.must(200, "GET", "/api/v1/namespaces/team-a/secrets/creds", nil)
	list := a.must(200, "GET", "/api/v1/namespaces/team-a/secrets", nil)
	for _, r := range []resp{created, got, list} {
		if bytes.Contains(r.Body, []byte(value)) || strings.Contains(string(r.Body), "czNjcjN0") {
			t.Fatalf("secret value returned by the API: %s", r.Body)
		}
	}
	if _, ok := got.Obj["data"].(map[string]any)["password"]; !ok {
		t.Fatalf("secret keys should stay visible: %s", got.Body)
	}
	// Re-applying the same value changes nothing.
	again := a.must(200, "PATCH", "/api/v1/namespaces/team-a/secrets/creds",
		`{"stringData":{"password":"`+value+`"}}`, "Content-Type", "application/merge-patch+json")
	if rvOf(again.Obj) != rvOf(got.Obj) {
		t.Fatal("re-applying an unchanged secret bumped its resourceVersion")
	}
	_ = f.Store.Close // keep the store open; scan the files it wrote
	matches, _ := filepath.Glob(filepath.Join(f.cfg.DataDir, "kiln.db*"))
	for _, m := range matches {
		raw, _ := os.ReadFile(m)
		if bytes.Contains(raw, []byte(value)) {
			t.Fatalf("secret value stored in plain text in %s", m)
		}
	}
}

func TestWatchResumesWithoutGapsOrDuplicates(t *testing.T) {
	t.Parallel()
	f, a := setup(t)
	start := a.must(200, "GET", nsPath("team-a", "applications"), nil)
	rv := str(start.Obj, "metadata", "resourceVersion")
	events := make(chan map[string]any, 16)
	go streamEvents(t, f, nsPath("team-a", "applications")+"?watch=true&resourceVersion="+rv, events)
	var rvs []string
	for i := 0; i < 3; i++ {
		a.must(201, "POST", nsPath("team-a", "applications"), app("app"+string(rune('a'+i))))
	}
	for i := 0; i < 3; i++ {
		ev := next(t, events)
		rvs = append(rvs, str(ev, "object", "metadata", "resourceVersion"))
		if str(ev, "type") != "ADDED" {
			t.Fatalf("event %d type %s", i, str(ev, "type"))
		}
	}
	// Resume after the first event: exactly the 2nd and 3rd come back.
	resumed := make(chan map[string]any, 16)
	go streamEvents(t, f, nsPath("team-a", "applications")+"?watch=true&resourceVersion="+rvs[0], resumed)
	for _, want := range rvs[1:] {
		if got := str(next(t, resumed), "object", "metadata", "resourceVersion"); got != want {
			t.Fatalf("resumed watch delivered rv %s, want %s", got, want)
		}
	}
	select {
	case ev := <-resumed:
		t.Fatalf("duplicate or extra event after resume: %v", ev)
	case <-time.After(200 * time.Millisecond):
	}
}

func next(t *testing.T, ch chan map[string]any) map[string]any {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no watch event within 5s")
		return nil
	}
}

func streamEvents(t *testing.T, f *Factory, path string, out chan<- map[string]any) {
	req, _ := http.NewRequestWithContext(t.Context(), "GET", f.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+f.AdminToken)
	res, err := f.HTTPClient().Do(req)
	if err != nil {
		return
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev map[string]any
		if json.Unmarshal(sc.Bytes(), &ev) == nil {
			out <- ev
		}
	}
}

func TestDiscoveryAndTables(t *testing.T) {
	t.Parallel()
	_, a := setup(t)
	groups := a.must(200, "GET", "/apis", nil)
	if !strings.Contains(string(groups.Body), `"kiln.dev"`) {
		t.Fatalf("/apis lacks kiln.dev: %s", groups.Body)
	}
	res := a.must(200, "GET", kiln, nil)
	for _, plural := range []string{"applications", "components", "snapshots", "releases", "releaseplans", "releaseplanadmissions", "integrationtestscenarios", "policies", "rolebindings"} {
		if !strings.Contains(string(res.Body), `"name":"`+plural+`"`) {
			t.Errorf("discovery lacks %s", plural)
		}
	}
	if strings.Contains(string(res.Body), `"tokens"`) {
		t.Error("internal Token kind is advertised by discovery")
	}
	a.must(201, "POST", nsPath("team-a", "applications"), app("greet"))
	tbl := a.must(200, "GET", nsPath("team-a", "applications"), nil, "Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	if str(tbl.Obj, "kind") != "Table" || !strings.Contains(string(tbl.Body), `"greet"`) {
		t.Fatalf("table response: %s", tbl.Body)
	}
}
