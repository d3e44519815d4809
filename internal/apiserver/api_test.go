package apiserver_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/apiserver/apitest"
	"github.com/kilnbuild/kiln/internal/store"
)

const kiln = "/apis/kiln.dev/v1alpha1"

func nsPath(ns, plural string) string { return kiln + "/namespaces/" + ns + "/" + plural }

var str = apitest.Str

// setup starts the API with a tenant namespace team-a and returns the
// admin's client.
func setup(t *testing.T, opts ...apitest.Option) (*apitest.Env, apitest.Client) {
	t.Helper()
	env := apitest.Start(t, opts...)
	a := env.Admin(t)
	a.Must(201, "POST", "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": "team-a"}})
	return env, a
}

func app(name string) map[string]any { return apitest.App(name) }

func component(name, app string) map[string]any { return apitest.Component(name, app) }

var rvOf = apitest.RV

func TestAuthenticationRequired(t *testing.T) {
	t.Parallel()
	env := apitest.Start(t)
	for _, tok := range []string{"", "nonsense", "kiln_000000000000_wrong"} {
		r := env.As(t, tok).Do("GET", nsPath("default", "applications"), nil)
		if r.Code != 401 || str(r.Obj, "reason") != "Unauthorized" {
			t.Errorf("token %q: got %d %s, want 401 Unauthorized", tok, r.Code, r.Body)
		}
	}
}

func TestCreateValidatesWithFieldPaths(t *testing.T) {
	t.Parallel()
	_, a := setup(t)
	bad := component("c1", "missing-app")
	r := a.Must(422, "POST", nsPath("team-a", "components"), bad)
	if !strings.Contains(string(r.Body), "spec.application") || !strings.Contains(string(r.Body), "missing-app") {
		t.Fatalf("bad reference error does not name the field: %s", r.Body)
	}
	a.Must(201, "POST", nsPath("team-a", "applications"), app("greet"))
	unknown := component("c1", "greet")
	unknown["spec"].(map[string]any)["source"].(map[string]any)["git"].(map[string]any)["urll"] = "x"
	r = a.Do("POST", nsPath("team-a", "components"), unknown)
	if r.Code < 400 || !strings.Contains(string(r.Body), "spec.source.git.urll") {
		t.Fatalf("unknown field not rejected with its path: %d %s", r.Code, r.Body)
	}
	badURL := component("c1", "greet")
	badURL["spec"].(map[string]any)["source"].(map[string]any)["git"].(map[string]any)["url"] = "htp://x"
	r = a.Must(422, "POST", nsPath("team-a", "components"), badURL)
	if !strings.Contains(string(r.Body), "spec.source.git.url") {
		t.Fatalf("bad git URL error lacks field path: %s", r.Body)
	}
	a.Must(404, "POST", nsPath("nowhere", "applications"), app("x"))
}

func TestOptimisticConcurrencyGenerationAndStatus(t *testing.T) {
	t.Parallel()
	_, a := setup(t)
	a.Must(201, "POST", nsPath("team-a", "applications"), app("greet"))
	c := a.Must(201, "POST", nsPath("team-a", "components"), component("cli", "greet")).Obj
	if str(c, "metadata", "generation") != "1" {
		t.Fatalf("generation = %s, want 1", str(c, "metadata", "generation"))
	}
	if len(c["metadata"].(map[string]any)["ownerReferences"].([]any)) != 1 {
		t.Fatal("component has no owner reference to its application")
	}
	path := nsPath("team-a", "components") + "/cli"
	// Label change: new resourceVersion, same generation.
	c["metadata"].(map[string]any)["labels"] = map[string]any{"tier": "cli"}
	c2 := a.Must(200, "PUT", path, c).Obj
	if str(c2, "metadata", "generation") != "1" || rvOf(c2) == rvOf(c) {
		t.Fatalf("label change: generation %s rv %d->%d", str(c2, "metadata", "generation"), rvOf(c), rvOf(c2))
	}
	// Stale update: conflict.
	c["spec"].(map[string]any)["source"].(map[string]any)["git"].(map[string]any)["revision"] = "dev"
	r := a.Must(409, "PUT", path, c)
	if str(r.Obj, "reason") != "Conflict" {
		t.Fatalf("stale update reason = %s", str(r.Obj, "reason"))
	}
	// Spec change on the fresh version bumps generation; status from the user is ignored.
	c2["spec"].(map[string]any)["source"].(map[string]any)["git"].(map[string]any)["revision"] = "dev"
	c2["status"] = map[string]any{"lastBuiltCommit": "forged"}
	c3 := a.Must(200, "PUT", path, c2).Obj
	if str(c3, "metadata", "generation") != "2" || str(c3, "status", "lastBuiltCommit") != "" {
		t.Fatalf("spec update: generation %s, status %v", str(c3, "metadata", "generation"), c3["status"])
	}
	// Status sub-resource (system only) writes status and nothing else.
	c3["status"] = map[string]any{"lastBuiltCommit": "abc123", "observedGeneration": 2}
	c3["spec"].(map[string]any)["source"].(map[string]any)["git"].(map[string]any)["revision"] = "ignored"
	c4 := a.Must(200, "PUT", path+"/status", c3).Obj
	if str(c4, "status", "lastBuiltCommit") != "abc123" || str(c4, "spec", "source", "git", "revision") != "dev" {
		t.Fatalf("status update leaked or lost: %v", c4)
	}
	// Re-sending the same object is a no-op: no new resourceVersion.
	c5 := a.Must(200, "PUT", path, c4).Obj
	if rvOf(c5) != rvOf(c4) {
		t.Fatalf("no-op update bumped resourceVersion %d -> %d", rvOf(c4), rvOf(c5))
	}
}

func TestMergePatchAndNoOp(t *testing.T) {
	t.Parallel()
	_, a := setup(t)
	a.Must(201, "POST", nsPath("team-a", "applications"), app("greet"))
	path := nsPath("team-a", "applications") + "/greet"
	patch := `{"metadata":{"labels":{"team":"a"}},"spec":{"description":"demo"}}`
	p1 := a.Must(200, "PATCH", path, patch, "Content-Type", "application/merge-patch+json").Obj
	if str(p1, "metadata", "labels", "team") != "a" || str(p1, "spec", "description") != "demo" {
		t.Fatalf("patch not applied: %v", p1)
	}
	p2 := a.Must(200, "PATCH", path, patch, "Content-Type", "application/merge-patch+json").Obj
	if rvOf(p2) != rvOf(p1) {
		t.Fatal("identical patch bumped resourceVersion")
	}
	r := a.Must(415, "PATCH", path, patch, "Content-Type", "application/apply-patch+yaml")
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
	a.Must(201, "POST", nsPath("team-a", "applications"), app("greet"))
	path := nsPath("team-a", "applications") + "/greet"
	r := a.Must(400, "PATCH", path, `{"metadata":{"labels":{"team":"a","team":"b"}}}`, "Content-Type", "application/merge-patch+json")
	if !strings.Contains(str(r.Obj, "message"), "metadata.labels.team: duplicate field") {
		t.Fatalf("duplicate in a merge patch: %s", r.Body)
	}
	r = a.Must(400, "PATCH", path, `[{"op":"add","path":"/metadata/labels","value":{"x":"1"},"value":{"x":"2"}}]`,
		"Content-Type", "application/json-patch+json")
	if !strings.Contains(str(r.Obj, "message"), "[0].value: duplicate field") {
		t.Fatalf("duplicate in a JSON patch: %s", r.Body)
	}
	big := `{"spec":{"description":"` + strings.Repeat("x", 4<<20) + `"}}`
	a.Must(413, "PATCH", path, big, "Content-Type", "application/merge-patch+json")
	if got := a.Must(200, "GET", path, nil).Obj; str(got, "metadata", "labels", "team") != "" {
		t.Fatalf("a refused patch was applied: %v", got["metadata"])
	}
}

// TestFinalizersHoldDeletion: a delete only marks an object with
// finalizers; removing the last one removes it.
func TestFinalizersHoldDeletion(t *testing.T) {
	t.Parallel()
	_, a := setup(t)
	a.Must(201, "POST", nsPath("team-a", "applications"), app("greet"))
	a.Must(201, "POST", nsPath("team-a", "components"), component("lib", "greet"))
	lib := nsPath("team-a", "components") + "/lib"
	a.Must(200, "PATCH", lib, `{"metadata":{"finalizers":["example.com/cleanup"]}}`, "Content-Type", "application/merge-patch+json")
	held := a.Must(200, "DELETE", lib, nil).Obj
	if str(held, "metadata", "deletionTimestamp") == "" {
		t.Fatalf("delete with finalizer did not mark deletion: %v", held)
	}
	a.Must(200, "GET", lib, nil)
	// Once deletion started, finalizers may be removed but not added.
	again := a.Must(200, "PATCH", lib, `{"metadata":{"finalizers":["example.com/cleanup","example.com/late"]}}`, "Content-Type", "application/merge-patch+json").Obj
	if fins := again["metadata"].(map[string]any)["finalizers"].([]any); len(fins) != 1 {
		t.Fatalf("a finalizer was added to an object being deleted: %v", fins)
	}
	a.Must(200, "PATCH", lib, `{"metadata":{"finalizers":null}}`, "Content-Type", "application/merge-patch+json")
	a.Must(404, "GET", lib, nil)
}

func TestSecretsNeverReturnedAndEncryptedAtRest(t *testing.T) {
	t.Parallel()
	env, a := setup(t)
	const value = "s3cr3t-value-visible-nowhere"
	sec := map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "creds"},
		"stringData": map[string]any{"password": value}}
	created := a.Must(201, "POST", "/api/v1/namespaces/team-a/secrets", sec)
	got := a.Must(200, "GET", "/api/v1/namespaces/team-a/secrets/creds", nil)
	list := a.Must(200, "GET", "/api/v1/namespaces/team-a/secrets", nil)
	for _, r := range []apitest.Response{created, got, list} {
		if bytes.Contains(r.Body, []byte(value)) || strings.Contains(string(r.Body), "czNjcjN0") {
			t.Fatalf("secret value returned by the API: %s", r.Body)
		}
	}
	if _, ok := got.Obj["data"].(map[string]any)["password"]; !ok {
		t.Fatalf("secret keys should stay visible: %s", got.Body)
	}
	// Re-applying the same value changes nothing.
	again := a.Must(200, "PATCH", "/api/v1/namespaces/team-a/secrets/creds",
		`{"stringData":{"password":"`+value+`"}}`, "Content-Type", "application/merge-patch+json")
	if rvOf(again.Obj) != rvOf(got.Obj) {
		t.Fatal("re-applying an unchanged secret bumped its resourceVersion")
	}
	matches, _ := filepath.Glob(filepath.Join(env.Dir, "kiln.db*"))
	if len(matches) == 0 {
		t.Fatalf("no database files in %s", env.Dir)
	}
	for _, m := range matches {
		raw, _ := os.ReadFile(m)
		if bytes.Contains(raw, []byte(value)) {
			t.Fatalf("secret value stored in plain text in %s", m)
		}
	}
}

func TestWatchResumesWithoutGapsOrDuplicates(t *testing.T) {
	t.Parallel()
	env, a := setup(t)
	start := a.Must(200, "GET", nsPath("team-a", "applications"), nil)
	rv := str(start.Obj, "metadata", "resourceVersion")
	events := make(chan map[string]any, 16)
	go streamEvents(t, env, nsPath("team-a", "applications")+"?watch=true&resourceVersion="+rv, events)
	var rvs []string
	for i := 0; i < 3; i++ {
		a.Must(201, "POST", nsPath("team-a", "applications"), app("app"+string(rune('a'+i))))
	}
	for i := 0; i < 3; i++ {
		ev := next(t, events)
		rvs = append(rvs, str(ev, "object", "metadata", "resourceVersion"))
		if str(ev, "type") != "ADDED" {
			t.Fatalf("event %d type %s", i, str(ev, "type"))
		}
	}
	// Resume after the first event: exactly the 2nd and 3rd come back, and
	// then a bookmark-free quiet stream until the next write.
	resumed := make(chan map[string]any, 16)
	go streamEvents(t, env, nsPath("team-a", "applications")+"?watch=true&resourceVersion="+rvs[0], resumed)
	for _, want := range rvs[1:] {
		if got := str(next(t, resumed), "object", "metadata", "resourceVersion"); got != want {
			t.Fatalf("resumed watch delivered rv %s, want %s", got, want)
		}
	}
	a.Must(201, "POST", nsPath("team-a", "applications"), app("appd"))
	if got := next(t, resumed); str(got, "object", "metadata", "name") != "appd" {
		t.Fatalf("after the resumed events came %v, want appd's", got)
	}
}

// TestWatchFromCompactedVersionIsGone: a watch from before the oldest
// event the store keeps ends with an ERROR event carrying 410 Expired, so
// that clients list again.
func TestWatchFromCompactedVersionIsGone(t *testing.T) {
	t.Parallel()
	env, a := setup(t, apitest.WithStore(store.Options{EventRetention: -1, MinEvents: -1}))
	old := str(a.Must(200, "GET", nsPath("team-a", "applications"), nil).Obj, "metadata", "resourceVersion")
	a.Must(201, "POST", nsPath("team-a", "applications"), app("greet"))
	env.Compact(t)
	events := make(chan map[string]any, 4)
	go streamEvents(t, env, nsPath("team-a", "applications")+"?watch=true&resourceVersion="+old, events)
	ev := next(t, events)
	if str(ev, "type") != "ERROR" || str(ev, "object", "code") != "410" || str(ev, "object", "reason") != "Expired" {
		t.Fatalf("watch from a compacted version: %v, want an ERROR 410 Expired", ev)
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

func streamEvents(t *testing.T, env *apitest.Env, path string, out chan<- map[string]any) {
	req, _ := http.NewRequestWithContext(t.Context(), "GET", env.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+env.AdminToken)
	res, err := http.DefaultClient.Do(req)
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
	groups := a.Must(200, "GET", "/apis", nil)
	if !strings.Contains(string(groups.Body), `"kiln.dev"`) {
		t.Fatalf("/apis lacks kiln.dev: %s", groups.Body)
	}
	res := a.Must(200, "GET", kiln, nil)
	for _, plural := range []string{"applications", "components", "snapshots", "releases", "releaseplans", "releaseplanadmissions", "integrationtestscenarios", "policies", "rolebindings"} {
		if !strings.Contains(string(res.Body), `"name":"`+plural+`"`) {
			t.Errorf("discovery lacks %s", plural)
		}
	}
	if strings.Contains(string(res.Body), `"tokens"`) {
		t.Error("internal Token kind is advertised by discovery")
	}
	a.Must(201, "POST", nsPath("team-a", "applications"), app("greet"))
	tbl := a.Must(200, "GET", nsPath("team-a", "applications"), nil, "Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	if str(tbl.Obj, "kind") != "Table" || !strings.Contains(string(tbl.Body), `"greet"`) {
		t.Fatalf("table response: %s", tbl.Body)
	}
}

// TestListItemsEqualGets: lists are served from the stored documents
// (registry.ListRaw), gets decode them; both must give the same objects,
// resourceVersion included, for every kind that lists raw.
func TestListItemsEqualGets(t *testing.T) {
	t.Parallel()
	_, a := setup(t)
	a.Must(201, "POST", nsPath("default", "applications"), app("greet"))
	for _, name := range []string{"a", "b", "c"} {
		c := component(name, "greet")
		c["metadata"].(map[string]any)["labels"] = map[string]any{"tier": name}
		c["metadata"].(map[string]any)["annotations"] = map[string]any{"note": "x"}
		a.Must(201, "POST", nsPath("default", "components"), c)
	}
	// An update: the stored document and its resourceVersion move apart
	// from the create.
	a.Must(200, "PATCH", nsPath("default", "components")+"/b", map[string]any{"metadata": map[string]any{"labels": map[string]any{"tier": "B"}}},
		"Content-Type", "application/merge-patch+json")
	plural := map[string]string{"Component": "components", "Application": "applications"}
	for _, path := range []string{nsPath("default", "components"), nsPath("default", "applications"), kiln + "/components"} {
		items, _ := a.Must(200, "GET", path, nil).Obj["items"].([]any)
		if len(items) == 0 {
			t.Fatalf("%s: empty list", path)
		}
		for _, it := range items {
			m := it.(map[string]any)
			got := a.Must(200, "GET", nsPath(str(m, "metadata", "namespace"), plural[str(m, "kind")])+"/"+str(m, "metadata", "name"), nil).Obj
			if !reflect.DeepEqual(m, got) {
				t.Fatalf("%s: list item differs from get:\nlist %v\nget  %v", path, m, got)
			}
		}
	}
}
