package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/executor"
	"github.com/kilnbuild/kiln/internal/gc"
	"github.com/kilnbuild/kiln/internal/logstore"
	"github.com/kilnbuild/kiln/internal/oci"
)

// v2 sends a raw registry request to the factory with token.
func v2(t *testing.T, f *Factory, token, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", f.URL+path, nil)
	req.SetBasicAuth("kiln", token)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
	res, err := f.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	_, _ = io.Copy(&b, res.Body)
	return res.StatusCode, b.String()
}

// namespaceData lists, for ns, what Kiln keeps on disk outside the store:
// registry repositories and referrers, logs of every kind, evidence,
// unpacked images, work directories and published static files.
func namespaceData(dataDir, ns string) []string {
	logs := filepath.Join(dataDir, "logs")
	return []string{
		filepath.Join(dataDir, "registry", "docker", "registry", "v2", "repositories", ns),
		filepath.Join(dataDir, "registry", "referrers", ns),
		filepath.Join(logs, ns, "Build", "b1.log"), filepath.Join(logs, ns, "Snapshot", "s1", "smoke.log"), filepath.Join(logs, ns, "Release", "r1.log"),
		executor.EvidencePath(filepath.Join(dataDir, "evidence"), ns, "b1", executor.EvidenceProvenance),
		filepath.Join(dataDir, "step-images", ns), filepath.Join(dataDir, "work", "builds", ns), filepath.Join(dataDir, "work", "runs", ns),
		filepath.Join(dataDir, "repos", ns, "greet", "hello", "file.txt"),
	}
}

// plantFiles fills every file location of namespaceData that a short test
// does not reach for real (test and release logs, static files, …).
func plantFiles(t *testing.T, dataDir, ns string) {
	t.Helper()
	for _, p := range namespaceData(dataDir, ns)[2:] {
		if _, err := os.Stat(p); err == nil {
			continue
		}
		writeFile(t, p, "data of "+ns)
	}
}

func waitGone(t *testing.T, a api, path string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if a.do("GET", path, nil).Code == http.StatusNotFound {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s was not deleted", path)
}

// TestNamespaceDeletionLeavesNothingForTheNextOwner: alice's team-a builds
// (artifact, signatures, log, evidence, snapshot) and pushes an image;
// after she deletes the namespace, nothing of it is left on disk, and bob,
// who creates team-a next, sees no tags, manifests, blobs, referrers,
// objects, logs or evidence of hers, even under her old build's name.
// team-a-b, whose name starts the same, keeps everything.
func TestNamespaceDeletionLeavesNothingForTheNextOwner(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	f, admin := buildFactory(t, Config{})
	alice := api{t: t, base: f.URL, token: userToken(t, admin, "alice"), hc: f.HTTPClient()}
	bob := api{t: t, base: f.URL, token: userToken(t, admin, "bob"), hc: f.HTTPClient()}
	for _, ns := range []string{"team-a", "team-a-b"} {
		alice.must(201, "POST", "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": ns}})
	}
	url, _ := gitRepo(t, map[string]string{"Makefile": makefile, "VERSION": "secret-of-a\n"})
	alice.must(201, "POST", nsPath("team-a", "applications"), app("greet"))
	alice.must(201, "POST", nsPath("team-a", "components"), scriptComponent("hello", url, nil))
	b := waitBuildIn(t, alice, "team-a", "hello", 1)
	if str(b, "status", "phase") != "Succeeded" {
		t.Fatalf("alice's build: %v", b["status"])
	}
	oldBuild, digest := str(b, "metadata", "name"), str(b, "status", "artifact", "digest")
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "secret"), "alice's image")
	rem := oci.Remote{Token: alice.token, RootCAs: f.caPool()}
	host := strings.TrimPrefix(f.URL, "https://")
	for _, ref := range []string{host + "/team-a/private:1", host + "/team-a-b/keep:1"} {
		if _, err := oci.PushDirectory(t.Context(), ref, src, oci.PushOptions{Remote: rem}); err != nil {
			t.Fatal(err)
		}
	}
	code, manifest := v2(t, f, alice.token, "/v2/team-a/hello/manifests/"+digest)
	var m struct{ Layers []struct{ Digest string } }
	_ = json.Unmarshal([]byte(manifest), &m)
	if code != 200 || len(m.Layers) != 1 {
		t.Fatalf("alice reads her manifest: %d %s", code, manifest)
	}
	if items := alice.must(200, "GET", nsPath("team-a", "snapshots"), nil).Obj["items"].([]any); len(items) == 0 {
		t.Fatal("alice's build made no snapshot")
	}
	plantFiles(t, f.cfg.DataDir, "team-a")
	plantFiles(t, f.cfg.DataDir, "team-a-b")

	alice.must(200, "DELETE", "/api/v1/namespaces/team-a", nil)
	waitGone(t, admin, "/api/v1/namespaces/team-a")

	for _, p := range namespaceData(f.cfg.DataDir, "team-a") {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s outlives its namespace (%v)", p, err)
		}
	}
	survivor := namespaceData(f.cfg.DataDir, "team-a-b")
	for _, p := range append(survivor[:1:1], survivor[2:]...) { // team-a-b has no referrers
		if _, err := os.Stat(p); err != nil {
			t.Errorf("team-a-b lost %s: %v", p, err)
		}
	}
	bob.must(201, "POST", "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": "team-a"}})
	for _, p := range []string{"/v2/team-a/hello/tags/list", "/v2/team-a/hello/manifests/" + digest, "/v2/team-a/hello/blobs/" + m.Layers[0].Digest,
		"/v2/team-a/private/manifests/1", "/v2/team-a/private/tags/list"} {
		if code, body := v2(t, f, bob.token, p); code != http.StatusNotFound {
			t.Errorf("bob GET %s = %d, want 404: %.200s", p, code, body)
		}
	}
	if _, body := v2(t, f, bob.token, "/v2/team-a/hello/referrers/"+digest); !strings.Contains(body, `"manifests":[]`) {
		t.Errorf("bob sees alice's referrers: %s", body)
	}
	for _, plural := range []string{"builds", "snapshots", "releases", "components", "applications"} {
		if items := bob.must(200, "GET", nsPath("team-a", plural), nil).Obj["items"].([]any); len(items) != 0 {
			t.Errorf("bob sees %d %s of alice", len(items), plural)
		}
	}
	// Bob's build under alice's old build name: its own log, no evidence.
	bob.must(201, "POST", nsPath("team-a", "applications"), app("greet"))
	bob.must(201, "POST", nsPath("team-a", "components"), scriptComponent("hello", "file:///nonexistent/bob.git", nil))
	bob.must(201, "POST", nsPath("team-a", "builds"), map[string]any{"metadata": map[string]any{"name": oldBuild},
		"spec": map[string]any{"component": "hello", "reason": map[string]any{"type": "manual"}}})
	eventually(t, "bob's build to finish", func() bool {
		return str(bob.must(200, "GET", nsPath("team-a", "builds")+"/"+oldBuild, nil).Obj, "status", "phase") == "Failed"
	})
	if log := bob.must(200, "GET", nsPath("team-a", "builds")+"/"+oldBuild+"/log", nil); strings.Contains(string(log.Body), digest) ||
		strings.Contains(string(log.Body), str(b, "status", "commit")) {
		t.Errorf("bob reads alice's build log:\n%s", log.Body)
	}
	if r := bob.do("GET", nsPath("team-a", "builds")+"/"+oldBuild+"/provenance", nil); r.Code != http.StatusNotFound {
		t.Errorf("bob reads alice's provenance (%d): %.300s", r.Code, r.Body)
	}
}

// TestNamespaceDeletionResumesAfterRestart: the server stops while team-a
// is being deleted (held by an object's finalizer) and part of its registry
// content is already gone, as after a kill in the middle of the cleanup.
// Until the deletion finishes the name is refused with a clear message;
// the next server finishes the cleanup once the object goes, and only then
// may the name be created again, empty.
func TestNamespaceDeletionResumesAfterRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := Config{DataDir: dir, Listen: "127.0.0.1:0", Log: quietLog(), RegistryNoSync: true}
	f, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := api{t: t, base: f.URL, token: f.AdminToken, hc: f.HTTPClient()}
	a.must(201, "POST", "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": "team-a"}})
	a.must(201, "POST", nsPath("team-a", "applications"), map[string]any{"metadata": map[string]any{"name": "held", "finalizers": []any{"example.com/hold"}}})
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "f"), "team-a content")
	ref := strings.TrimPrefix(f.URL, "https://") + "/team-a/app:1"
	if _, err := oci.PushDirectory(t.Context(), ref, src, oci.PushOptions{Remote: oci.Remote{Token: f.AdminToken, RootCAs: f.caPool()}}); err != nil {
		t.Fatal(err)
	}
	plantFiles(t, dir, "team-a")
	a.must(200, "DELETE", "/api/v1/namespaces/team-a", nil)
	eventually(t, "team-a to be Terminating", func() bool {
		return str(a.must(200, "GET", "/api/v1/namespaces/team-a", nil).Obj, "status", "phase") == "Terminating"
	})
	if err := f.Stop(); err != nil {
		t.Fatal(err)
	}
	repos := namespaceData(dir, "team-a")[0]
	if err := os.RemoveAll(filepath.Join(repos, "app", "_manifests", "tags")); err != nil { // a cleanup cut short
		t.Fatal(err)
	}

	f2 := testFactory(t, dir)
	a2 := api{t: t, base: f2.URL, token: f2.AdminToken, hc: f2.HTTPClient()}
	taken := a2.must(409, "POST", "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": "team-a"}})
	if msg := str(taken.Obj, "message"); !strings.Contains(msg, "namespace team-a is being deleted") || !strings.Contains(msg, "retry when it is gone") {
		t.Fatalf("creating a namespace being deleted: %s", taken.Body)
	}
	host2 := strings.TrimPrefix(f2.URL, "https://")
	for ref, want := range map[string]string{host2 + "/team-a/app:2": "namespace team-a is being deleted", host2 + "/ghost/app:1": "namespace ghost does not exist"} {
		_, err := oci.PushDirectory(t.Context(), ref, src, oci.PushOptions{Remote: oci.Remote{Token: f2.AdminToken, RootCAs: f2.caPool()}})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("pushing %s: %v, want %q", ref, err, want)
		}
	}
	a2.must(200, "PATCH", nsPath("team-a", "applications")+"/held", `{"metadata":{"finalizers":null}}`, "Content-Type", "application/merge-patch+json")
	waitGone(t, a2, "/api/v1/namespaces/team-a")
	for _, p := range namespaceData(dir, "team-a") {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s outlives its namespace (%v)", p, err)
		}
	}
	a2.must(201, "POST", "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": "team-a"}})
	if code, body := v2(t, f2, f2.AdminToken, "/v2/team-a/app/manifests/1"); code != http.StatusNotFound {
		t.Fatalf("the re-created namespace serves the old image: %d %s", code, body)
	}
}

// Purging one namespace's logs and static files touches no other
// namespace's, whatever the names (also those of the directories earlier
// versions shared between namespaces: tests, releases).
func TestNamespaceFilesPurgeIsExact(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logs, err := logstore.Open(filepath.Join(dir, "logs"))
	if err != nil {
		t.Fatal(err)
	}
	purgers := []gc.Purger{logs, staticFiles{filepath.Join(dir, "repos")}}
	names := []string{"a", "a-b", "tests", "releases", "builds", "runs"}
	for _, ns := range names {
		plantFiles(t, dir, ns)
	}
	for _, gone := range names {
		for range 2 { // idempotent
			for _, p := range purgers {
				if err := p.PurgeNamespace(t.Context(), gone); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, ns := range names {
			for _, path := range append(namespaceData(dir, ns)[2:5], namespaceData(dir, ns)[9]) { // logs, static files
				_, err := os.Stat(path)
				if deleted := os.IsNotExist(err); deleted != (ns == gone || deletedBefore(names, ns, gone)) {
					t.Errorf("purging %s: %s deleted=%v (%v)", gone, path, deleted, err)
				}
			}
		}
	}
}

// deletedBefore reports whether ns comes before gone in names (purged in
// an earlier round).
func deletedBefore(names []string, ns, gone string) bool {
	for _, n := range names {
		if n == gone {
			return false
		}
		if n == ns {
			return true
		}
	}
	return false
}
