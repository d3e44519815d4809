package server

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"sigs.k8s.io/yaml"

	"github.com/kilnbuild/kiln/internal/oci"
)

// uuidZip is the module download the uuidgen fixture needs, as the module
// proxy serves it and the prefetch record must list it.
const uuidZip = "github.com/google/uuid/@v/v1.6.0.zip"

// TestGoComponentBuildsHermetically builds a Go module with a real
// dependency from the module proxy through a real factory, with the build
// settings of examples/kiln (the component that builds Kiln itself): the
// artifact is signed and verifies, its provenance lists the module zip the
// prefetch step downloaded with the proxy's SHA-256 (and not the unpacked
// module files), and the binary runs.
func TestGoComponentBuildsHermetically(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go program with a dependency from the module proxy")
	}
	t.Parallel()
	requireSandbox(t)
	needGo(t)
	zipSum := proxyZipSum(t, uuidZip)
	url, _ := gitRepo(t, readTree(t, "testdata/uuidgen"))
	f, a := buildFactory(t, Config{})
	build := exampleKilnBuild(t, "./cmd/uuidgen")
	comp := scriptComponent("uuidgen", url, build)
	a.must(201, "POST", nsPath("default", "components"), comp)

	b := waitBuildFor(t, a, "uuidgen", 1, 10*time.Minute)
	name := str(b, "metadata", "name")
	if str(b, "status", "phase") != "Succeeded" {
		log := a.do("GET", nsPath("default", "builds")+"/"+name+"/log", nil)
		t.Fatalf("build: %s\nlog:\n%s", str(b, "status", "message"), log.Body)
	}
	checkOnlyPrefetchHadNetwork(t, b, "download")
	ref := str(b, "status", "artifact", "repository") + "@" + str(b, "status", "artifact", "digest")
	if out, err := kilnCLI(t, f)("verify", ref); err != nil || !strings.Contains(out, "verified") {
		t.Fatalf("kiln verify %s: %v\n%s", ref, err, out)
	}
	deps := resolvedDependencies(t, a.must(200, "GET", nsPath("default", "builds")+"/"+name+"/provenance", nil).Body)
	checkPrefetchedModule(t, deps, uuidZip, zipSum)

	bin := pullBinary(t, f, ref, "uuidgen")
	out, err := exec.Command(bin, "https://kiln.dev").Output()
	if want := uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://kiln.dev")).String() + "\n"; err != nil || string(out) != want {
		t.Fatalf("the built binary said %q (%v), want %q", out, err, want)
	}
}

// TestKilnBuildsKiln builds this repository's kiln binary with the
// component of examples/kiln, twice, in two fresh factories, and logs the
// time and the artifact digests: the figure of docs/pipelines.md. It takes
// several CPU-minutes, so it runs only with KILN_SELF_BUILD=1.
func TestKilnBuildsKiln(t *testing.T) {
	if os.Getenv("KILN_SELF_BUILD") == "" {
		t.Skip("set KILN_SELF_BUILD=1 to build the kiln binary with Kiln (several CPU-minutes)")
	}
	requireSandbox(t)
	needGo(t)
	src := cloneThisRepo(t)
	var digests []string
	for i := range 2 {
		f, a := buildFactory(t, Config{})
		start := time.Now()
		a.must(201, "POST", nsPath("default", "components"), scriptComponent("kiln", "file://"+src, exampleKilnBuild(t, "./cmd/kiln")))
		b := waitBuildFor(t, a, "kiln", 1, 60*time.Minute)
		name := str(b, "metadata", "name")
		if str(b, "status", "phase") != "Succeeded" {
			log := a.do("GET", nsPath("default", "builds")+"/"+name+"/log", nil)
			t.Fatalf("build: %s\nlog:\n%s", str(b, "status", "message"), log.Body)
		}
		ref := str(b, "status", "artifact", "repository") + "@" + str(b, "status", "artifact", "digest")
		if out, err := kilnCLI(t, f)("verify", ref); err != nil || !strings.Contains(out, "verified") {
			t.Fatalf("kiln verify %s: %v\n%s", ref, err, out)
		}
		deps := resolvedDependencies(t, a.must(200, "GET", nsPath("default", "builds")+"/"+name+"/provenance", nil).Body)
		bin := pullBinary(t, f, ref, "kiln")
		info, err := exec.Command("go", "version", "-m", bin).CombinedOutput()
		if err != nil || !strings.Contains(string(info), "path\tgithub.com/kilnbuild/kiln/cmd/kiln") {
			t.Fatalf("go version -m: %v\n%s", err, info)
		}
		sum := fileSum(t, bin)
		t.Logf("build %d: %s in %s; artifact %s; binary sha256:%s; %d resolved dependencies (%d module zips)",
			i+1, b["status"].(map[string]any)["phase"], time.Since(start).Round(time.Second), ref, sum, len(deps), countZips(deps))
		digests = append(digests, str(b, "status", "artifact", "digest"))
		_ = f.Stop()
	}
	if digests[0] != digests[1] {
		t.Errorf("two builds of the same commit gave different artifacts: %v", digests)
	}
}

// exampleKilnBuild is spec.build of the kiln component of examples/kiln,
// with its packages param set to packages.
func exampleKilnBuild(t *testing.T, packages string) map[string]any {
	t.Helper()
	data, err := os.ReadFile("../../examples/kiln/kiln.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatalf("examples/kiln/kiln.yaml: %v", err)
		}
		if obj["kind"] != "Component" {
			continue
		}
		build := obj["spec"].(map[string]any)["build"].(map[string]any)
		build["pollInterval"] = "0s"
		for _, p := range build["params"].([]any) {
			if p := p.(map[string]any); p["name"] == "packages" {
				p["value"] = `["` + packages + `"]`
			}
		}
		return build
	}
	t.Fatal("examples/kiln/kiln.yaml has no Component")
	return nil
}

// resolvedDependencies decodes the provenance the API serves (a DSSE
// envelope or the statement) and returns its resolved dependencies.
func resolvedDependencies(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	var env struct {
		Payload string `json:"payload"`
	}
	if json.Unmarshal(body, &env) == nil && env.Payload != "" {
		if b, err := base64.StdEncoding.DecodeString(env.Payload); err == nil {
			body = b
		}
	}
	var st struct {
		Predicate struct {
			BuildDefinition struct {
				ResolvedDependencies []map[string]any `json:"resolvedDependencies"`
			} `json:"buildDefinition"`
		} `json:"predicate"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("provenance: %v\n%s", err, body)
	}
	return st.Predicate.BuildDefinition.ResolvedDependencies
}

// checkPrefetchedModule: the module zip is listed with the proxy's SHA-256,
// and none of the files unpacked from it is.
func checkPrefetchedModule(t *testing.T, deps []map[string]any, zip, sum string) {
	t.Helper()
	found := false
	unpacked := strings.Replace(strings.TrimSuffix(zip, ".zip"), "/@v/", "@", 1) + "/"
	for _, d := range deps {
		uri, _ := d["uri"].(string)
		digest, _ := d["digest"].(map[string]any)
		if strings.HasSuffix(uri, "/"+zip) {
			found = digest["sha256"] == sum
		}
		if strings.Contains(uri, unpacked) {
			t.Errorf("provenance lists an unpacked module file %s: the record should hold the downloads only", uri)
		}
	}
	if !found {
		t.Fatalf("provenance lacks the prefetched %s with sha256 %s: %v", zip, sum, deps)
	}
}

// checkOnlyPrefetchHadNetwork: the build's steps ran, and only the named
// prefetch step had network.
func checkOnlyPrefetchHadNetwork(t *testing.T, b map[string]any, prefetch string) {
	t.Helper()
	steps, _ := b["status"].(map[string]any)["steps"].([]any)
	ran := 0
	for _, s := range steps {
		s := s.(map[string]any)
		net, _ := s["network"].(bool)
		if net != (s["name"] == prefetch) {
			t.Errorf("step %s/%s: network %v", s["task"], s["name"], net)
		}
		ran++
	}
	if ran < 2 {
		t.Errorf("want the prefetch and the build step, got %v", steps)
	}
}

func countZips(deps []map[string]any) int {
	n := 0
	for _, d := range deps {
		if uri, _ := d["uri"].(string); strings.HasSuffix(uri, ".zip") {
			n++
		}
	}
	return n
}

// proxyZipSum downloads a module zip from the public module proxy, as the
// prefetch step will, and returns its SHA-256; without the proxy the test
// cannot run (and fails in CI).
func proxyZipSum(t *testing.T, zip string) string {
	t.Helper()
	resp, err := http.Get("https://proxy.golang.org/" + zip)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = &proxyError{resp.Status}
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the Go module proxy is needed: %v", err)
		}
		t.Skipf("the Go module proxy is not reachable: %v", err)
	}
	defer resp.Body.Close()
	h := sha256.New()
	if _, err := io.Copy(h, resp.Body); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

type proxyError struct{ status string }

func (e *proxyError) Error() string { return "module proxy: " + e.status }

func needGo(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the steps use the host's Go toolchain, and go is not installed")
	}
}

// readTree reads every file under dir, by path relative to it.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// pullBinary pulls an artifact and returns the path of its executable file.
func pullBinary(t *testing.T, f *Factory, ref, file string) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := oci.Pull(t.Context(), ref, dir, oci.Remote{Token: f.AdminToken, RootCAs: f.caPool()}); err != nil {
		t.Fatalf("pulling %s: %v", ref, err)
	}
	bin := filepath.Join(dir, file)
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatalf("artifact lacks %s: %v", file, err)
	}
	return bin
}

func fileSum(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// cloneThisRepo clones the repository these tests are in, its HEAD as
// branch main.
func cloneThisRepo(t *testing.T) string {
	t.Helper()
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatalf("not in a git checkout: %v", err)
	}
	dst := filepath.Join(t.TempDir(), "kiln")
	if out, err := exec.Command("git", "clone", "-q", "--local", strings.TrimSpace(string(top)), dst).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	// The example component builds branch main.
	if out, err := exec.Command("git", "-C", dst, "checkout", "-q", "-B", "main").CombinedOutput(); err != nil {
		t.Fatalf("git checkout: %v\n%s", err, out)
	}
	return dst
}
