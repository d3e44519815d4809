package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// v2Do sends a raw registry request with token and returns the status.
func v2Do(t *testing.T, f *Factory, token, method, path string) int {
	t.Helper()
	req, _ := http.NewRequest(method, f.URL+path, nil)
	req.SetBasicAuth("kiln", token)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
	res, err := f.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestTenantCannotReachAnotherTenantsArtifacts: bob, who owns team-b,
// knows the names and digests of alice's artifact in team-a (manifest,
// layer, signature tag). He can read none of it, not through team-a's
// repository, nor by asking for the digests under his own repository
// names, nor by mounting her blob into his repository; nor her build's
// log, provenance, SBOM, Snapshot or Release.
func TestTenantCannotReachAnotherTenantsArtifacts(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	f, admin := buildFactory(t, Config{})
	alice := api{t: t, base: f.URL, token: userToken(t, admin, "alice"), hc: f.HTTPClient()}
	bob := api{t: t, base: f.URL, token: userToken(t, admin, "bob"), hc: f.HTTPClient()}
	alice.must(201, "POST", "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": "team-a"}})
	bob.must(201, "POST", "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": "team-b"}})
	url, _ := gitRepo(t, map[string]string{"Makefile": makefile, "VERSION": "secret-of-a\n"})
	alice.must(201, "POST", nsPath("team-a", "applications"), app("greet"))
	alice.must(201, "POST", nsPath("team-a", "components"), scriptComponent("hello", url, nil))
	b := waitBuildIn(t, alice, "team-a", "hello", 1)
	if str(b, "status", "phase") != "Succeeded" {
		t.Fatalf("alice's build: %v", b["status"])
	}
	build, digest := str(b, "metadata", "name"), str(b, "status", "artifact", "digest")
	code, manifest := v2(t, f, alice.token, "/v2/team-a/hello/manifests/"+digest)
	var m struct{ Layers []struct{ Digest string } }
	if err := json.Unmarshal([]byte(manifest), &m); code != 200 || err != nil || len(m.Layers) == 0 {
		t.Fatalf("alice reads her manifest: %d %s", code, manifest)
	}
	layer := m.Layers[0].Digest
	sigTag := strings.Replace(digest, ":", "-", 1) + ".sig"
	bob.must(201, "POST", nsPath("team-b", "applications"), app("greet"))

	for _, c := range []struct {
		what, method, path string
		refused            func(int) bool
	}{
		{"her manifest", "GET", "/v2/team-a/hello/manifests/" + digest, forbidden},
		{"her manifest (HEAD)", "HEAD", "/v2/team-a/hello/manifests/" + digest, forbidden},
		{"her tags", "GET", "/v2/team-a/hello/tags/list", forbidden},
		{"her signature", "GET", "/v2/team-a/hello/manifests/" + sigTag, forbidden},
		{"her layer", "GET", "/v2/team-a/hello/blobs/" + layer, forbidden},
		{"her referrers", "GET", "/v2/team-a/hello/referrers/" + digest, forbidden},
		{"her manifest under his name", "GET", "/v2/team-b/hello/manifests/" + digest, notFound},
		{"her layer under his name", "GET", "/v2/team-b/hello/blobs/" + layer, notFound},
		{"her layer under his name (HEAD)", "HEAD", "/v2/team-b/hello/blobs/" + layer, notFound},
		{"the catalog", "GET", "/v2/_catalog", forbidden},
	} {
		if got := v2Do(t, f, bob.token, c.method, c.path); !c.refused(got) {
			t.Errorf("bob reads %s (%s %s): %d", c.what, c.method, c.path, got)
		}
	}
	// A cross-repository mount must not link her blob into his repository.
	mount := v2Do(t, f, bob.token, "POST", "/v2/team-b/hello/blobs/uploads/?mount="+layer+"&from=team-a/hello")
	if mount == http.StatusCreated || v2Do(t, f, bob.token, "GET", "/v2/team-b/hello/blobs/"+layer) != http.StatusNotFound {
		t.Errorf("bob mounted alice's layer into team-b (mount answered %d)", mount)
	}
	for _, sub := range []string{"log", "provenance", "sbom"} {
		if r := bob.do("GET", nsPath("team-a", "builds")+"/"+build+"/"+sub, nil); r.Code != http.StatusForbidden {
			t.Errorf("bob reads alice's build %s: %d %s", sub, r.Code, r.Body)
		}
	}
	for _, res := range []string{"builds", "snapshots", "releases", "components", "buildgroups"} {
		if r := bob.do("GET", nsPath("team-a", res), nil); r.Code != http.StatusForbidden {
			t.Errorf("bob lists alice's %s: %d", res, r.Code)
		}
	}
}

func forbidden(code int) bool { return code == http.StatusForbidden || code == http.StatusUnauthorized }
func notFound(code int) bool  { return code == http.StatusNotFound }
