package server

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/internal/oci"
)

// TestBuildIsSignedAndVerifiable is the supply-chain slice end to end: a
// real build is signed by the server (never in the sandbox, which cannot
// even see the key), its provenance and SBOM are served by the API, and
// both `kiln verify` and the real cosign accept it — and refuse it once the
// tag points at an artifact Kiln did not build.
func TestBuildIsSignedAndVerifiable(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	keyPath := "" // filled below; the step checks it cannot see the key
	url, _ := gitRepo(t, map[string]string{"go.mod": "module example.com/hello\n\ngo 1.22\n\nrequire golang.org/x/text v0.14.0\n",
		"VERSION": "1.0\n"})
	f, a := buildFactory(t, Config{})
	keyPath = f.cfg.SigningKey
	if _, err := os.Stat(keyPath); err != nil {
		t.Fatalf("no signing key created at %s: %v", keyPath, err)
	}
	script := "mkdir -p out; if cat " + keyPath + " 2>/dev/null || test -e " + filepath.Dir(keyPath) +
		"; then echo LEAK > out/leak; fi; echo hello > out/greeting.txt"
	a.must(201, "POST", nsPath("default", "components"), scriptComponent("hello", url, map[string]any{
		"params": []any{map[string]any{"name": "image", "value": "host"}, map[string]any{"name": "outputs", "value": `["out"]`},
			map[string]any{"name": "script", "value": script}}}))
	b := waitBuild(t, a, "hello", 1)
	name := str(b, "metadata", "name")
	if str(b, "status", "phase") != "Succeeded" {
		log := a.do("GET", nsPath("default", "builds")+"/"+name+"/log", nil)
		t.Fatalf("build: %s\nlog:\n%s", str(b, "status", "message"), log.Body)
	}
	repo, digest := str(b, "status", "artifact", "repository"), str(b, "status", "artifact", "digest")
	ref := repo + "@" + digest
	if leak := pullFileMaybe(t, f, ref, "out/leak"); leak != "" {
		t.Fatal("a build step could read the signing key")
	}

	info := a.must(200, "GET", "/apis/kiln.dev/v1alpha1/builder", nil).Obj
	ev := b["status"].(map[string]any)["evidence"].(map[string]any)
	if ev["keyId"] != info["keyId"] || ev["builderId"] != DefaultBuilderID || !strings.Contains(ev["attestations"].(string), ".att@sha256:") {
		t.Fatalf("status.evidence %v, builder %v", ev, info)
	}

	prov := a.must(200, "GET", nsPath("default", "builds")+"/"+name+"/provenance", nil)
	for _, want := range []string{str(b, "status", "commit"), DefaultBuilderID, `"invocationId": "` + name + `"`, "https://slsa.dev/provenance/v1"} {
		if !strings.Contains(string(prov.Body), want) {
			t.Fatalf("provenance lacks %q:\n%s", want, prov.Body)
		}
	}
	spdx := a.must(200, "GET", nsPath("default", "builds")+"/"+name+"/sbom", nil)
	cdx := a.must(200, "GET", nsPath("default", "builds")+"/"+name+"/sbom?format=cyclonedx", nil)
	if !strings.Contains(string(spdx.Body), "SPDX-2.3") || !strings.Contains(string(spdx.Body), "pkg:golang/golang.org/x/text@v0.14.0") ||
		!strings.Contains(string(cdx.Body), `"bomFormat":"CycloneDX"`) {
		t.Fatalf("SBOMs:\n%s\n%s", spdx.Body, cdx.Body)
	}

	kiln := kilnCLI(t, f)
	if out, err := kiln("verify", ref); err != nil || !strings.Contains(out, "verified") {
		t.Fatalf("kiln verify %s: %v\n%s", ref, err, out)
	}
	if out, err := kiln("verify", digest, "-o", "json"); err != nil || !strings.Contains(out, `"verified": true`) {
		t.Fatalf("kiln verify DIGEST -o json: %v\n%s", err, out)
	}
	if out, err := kiln("describe", "build", name); err != nil || !strings.Contains(out, "Provenance:") || !strings.Contains(out, "git+file://") {
		t.Fatalf("describe build: %v\n%s", err, out)
	}
	pub, err := kiln("keys", "public")
	if err != nil || !strings.Contains(pub, "BEGIN PUBLIC KEY") {
		t.Fatalf("keys public: %v\n%s", err, pub)
	}

	cos := serverCosign(t, f, pub)
	if cos != nil {
		cos.mustPass("verify", ref)
		cos.mustPass("verify-attestation", ref, "--type", "slsaprovenance1")
		cos.mustPass("verify-attestation", ref, "--type", "spdxjson")
	}

	// Re-point the tag at an artifact Kiln did not build (a tenant push
	// from a laptop): both verifiers refuse it.
	tag := repo + ":build-1"
	forged := t.TempDir()
	writeFile(t, filepath.Join(forged, "out", "greeting.txt"), "evil\n")
	if _, err := oci.PushDirectory(t.Context(), tag, forged, oci.PushOptions{Remote: oci.Remote{Token: f.AdminToken, RootCAs: f.caPool()}}); err != nil {
		t.Fatal(err)
	}
	out, err := kiln("verify", tag)
	if err == nil || !strings.Contains(err.Error(), "no signature") {
		t.Fatalf("kiln verify accepted a forged artifact: %v\n%s", err, out)
	}
	if cos != nil {
		cos.mustFail("verify", tag)
	}
}

// pullFileMaybe returns a file of the artifact, or "" when it has none.
func pullFileMaybe(t *testing.T, f *Factory, ref, file string) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := oci.Pull(t.Context(), ref, dir, oci.Remote{Token: f.AdminToken, RootCAs: f.caPool()}); err != nil {
		t.Fatalf("pulling %s: %v", ref, err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, file))
	return string(b)
}

type cosignRunner struct {
	t        *testing.T
	bin, key string
	env      []string
}

// serverCosign runs the real cosign (go tool cosign) against f's registry
// as the admin; nil when cosign cannot be built outside CI.
func serverCosign(t *testing.T, f *Factory, pubPEM string) *cosignRunner {
	t.Helper()
	out, err := exec.Command("go", "tool", "-n", "cosign").Output()
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv("KILN_REQUIRE_COSIGN") != "" {
			t.Fatalf("go tool cosign is required: %v", err)
		}
		t.Logf("go tool cosign unavailable: %v", err)
		return nil
	}
	home := t.TempDir()
	docker := filepath.Join(home, ".docker")
	host := strings.TrimPrefix(f.URL, "https://")
	auth := base64.StdEncoding.EncodeToString([]byte("kiln:" + f.AdminToken))
	cfg, _ := json.Marshal(map[string]any{"auths": map[string]any{host: map[string]string{"auth": auth}}})
	writeFile(t, filepath.Join(docker, "config.json"), string(cfg))
	writeFile(t, filepath.Join(home, "ca.pem"), string(f.CAPEM))
	writeFile(t, filepath.Join(home, "kiln.pub"), pubPEM)
	return &cosignRunner{t: t, bin: strings.TrimSpace(string(out)), key: filepath.Join(home, "kiln.pub"),
		env: append(os.Environ(), "HOME="+home, "DOCKER_CONFIG="+docker, "SSL_CERT_FILE="+filepath.Join(home, "ca.pem"),
			"TUF_ROOT="+filepath.Join(home, ".sigstore"), "SIGSTORE_NO_CACHE=true")}
}

func (c *cosignRunner) run(verb, ref string, extra ...string) (string, error) {
	args := append([]string{verb, "--key", c.key, "--insecure-ignore-tlog=true", "--new-bundle-format=false"}, extra...)
	cmd := exec.Command(c.bin, append(args, ref)...)
	cmd.Env = c.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (c *cosignRunner) mustPass(verb, ref string, extra ...string) {
	c.t.Helper()
	if out, err := c.run(verb, ref, extra...); err != nil {
		c.t.Fatalf("cosign %s %s: %v\n%s", verb, ref, err, out)
	}
}

func (c *cosignRunner) mustFail(verb, ref string, extra ...string) {
	c.t.Helper()
	if out, err := c.run(verb, ref, extra...); err == nil {
		c.t.Fatalf("cosign %s accepted %s:\n%s", verb, ref, out)
	}
}
