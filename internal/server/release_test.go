package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"

	"github.com/kilnbuild/kiln/internal/attest"
	"github.com/kilnbuild/kiln/internal/oci"
)

// smokePipeline checks the snapshot's hello artifact (read-only under
// /kiln/deps) says what the scenario wants, and reports TEST_OUTPUT.
const smokePipeline = `apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: smoke
spec:
  params:
    - name: SNAPSHOT
      type: string
    - name: want
      type: string
  results:
    - name: TEST_OUTPUT
      value: $(tasks.check.results.TEST_OUTPUT)
  tasks:
    - name: check
      params:
        - name: snapshot
          value: $(params.SNAPSHOT)
        - name: want
          value: $(params.want)
      taskSpec:
        params:
          - name: snapshot
          - name: want
        results:
          - name: TEST_OUTPUT
        steps:
          - name: check
            image: host
            env:
              - name: SNAPSHOT
                value: $(params.snapshot)
            script: |
              set -e
              echo "$SNAPSHOT" | grep -q '"application":"greet"'
              if grep -q "$(params.want)" /kiln/deps/hello/out/greeting.txt; then r=SUCCESS; s=1; f=0; else r=FAILURE; s=0; f=1; fi
              printf '{"result":"%s","successes":%d,"failures":%d,"warnings":0,"note":"greeting checked"}' $r $s $f > $(results.TEST_OUTPUT.path)
`

// lintPipeline always fails: an optional scenario must not block.
const lintPipeline = `apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: lint
spec:
  results:
    - name: TEST_OUTPUT
      value: $(tasks.lint.results.TEST_OUTPUT)
  tasks:
    - name: lint
      taskSpec:
        results:
          - name: TEST_OUTPUT
        steps:
          - name: lint
            image: host
            script: printf '{"result":"FAILURE","successes":0,"failures":3,"warnings":0,"note":"3 lint findings"}' > $(results.TEST_OUTPUT.path)
`

type releaseEnv struct {
	f        *Factory
	a        api
	prodHost string
	relKey   *ecdsa.PrivateKey
}

// TestReleaseEndToEnd: a build becomes a Snapshot, integration tests run
// against it in the sandbox, the auto-release verifies the artifact with
// the policy and copies it (with signatures and attestations) to a
// "production" registry, re-signed with the managed namespace's key.
// Then the adversarial cases are each rejected with the reason recorded.
func TestReleaseEndToEnd(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	env := setupRelease(t)
	a := env.a
	url, _ := gitRepo(t, map[string]string{"VERSION": "1\n"})
	a.must(201, "POST", nsPath("default", "components"), scriptComponent("hello", url, map[string]any{
		"params": []any{map[string]any{"name": "image", "value": "host"}, map[string]any{"name": "outputs", "value": `["out"]`},
			map[string]any{"name": "script", "value": "mkdir -p out; echo hello > out/greeting.txt"}}}))
	b := waitBuild(t, a, "hello", 1)
	if str(b, "status", "phase") != "Succeeded" {
		t.Fatalf("build: %v", b["status"])
	}
	snap := "greet-" + str(b, "metadata", "name")
	s := waitSnapshotTests(t, a, snap)
	if cond(s, "TestsPassed")["status"] != "True" {
		t.Fatalf("snapshot tests: %v", s["status"])
	}
	rel := waitRelease(t, a, snap+"-to-prod")
	if str(rel, "status", "phase") != "Succeeded" {
		dump(t, a)
		t.Fatalf("release: %v", rel["status"])
	}
	checkReleased(t, env, b, rel)
	checkRerunFailedOnly(t, env, snap)
	checkAdversarial(t, env)
}

func setupRelease(t *testing.T) releaseEnv {
	t.Helper()
	prod := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(prod.Close)
	f, a := buildFactory(t, Config{})
	env := releaseEnv{f: f, a: a, prodHost: strings.TrimPrefix(prod.URL, "http://")}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalECPrivateKey(key)
	env.relKey = key
	tests, _ := gitRepo(t, map[string]string{".tekton/smoke.yaml": smokePipeline, ".tekton/lint.yaml": lintPipeline})
	a.must(201, "POST", nsPath("default", "integrationtestscenarios"), scenario("smoke", tests, ".tekton/smoke.yaml", false, "hello"))
	a.must(201, "POST", nsPath("default", "integrationtestscenarios"), scenario("lint", tests, ".tekton/lint.yaml", true, ""))
	a.must(201, "POST", "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": "prod"}, "spec": map[string]any{"type": "managed"}})
	a.must(201, "POST", "/api/v1/namespaces/prod/secrets", map[string]any{"metadata": map[string]any{"name": "release-key"},
		"stringData": map[string]any{"cosign.key": string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))}})
	a.must(201, "POST", nsPath("prod", "policies"), map[string]any{"metadata": map[string]any{"name": "release"},
		"spec": map[string]any{"sources": []any{map[string]any{"name": "kiln", "policy": []any{"kiln://rules"},
			// Test builds run on the "host" image (no base images offline);
			// the shipped rule rightly flags that, so this policy excludes it.
			"config":   map[string]any{"include": []any{"@slsa3"}, "exclude": []any{"builder.isolated_steps"}},
			"ruleData": map[string]any{"required_test_scenarios": []any{"smoke"}}}}}})
	a.must(201, "POST", nsPath("prod", "releaseplanadmissions"), map[string]any{"metadata": map[string]any{"name": "greet"},
		"spec": map[string]any{"applications": []any{"greet"}, "origin": "default", "policy": "release",
			"pipeline": map[string]any{"pipelineRef": map[string]any{"resolver": "catalog", "params": []any{map[string]any{"name": "name", "value": "push-to-registry"}}}},
			"data": map[string]any{"mapping": map[string]any{"defaults": map[string]any{"repository": env.prodHost + "/prod/{{ component }}",
				"tags": []any{"{{ git_sha }}", "build-{{ build_counter }}", "latest"}}},
				"registry": map[string]any{"plainHTTP": true}, "signing": map[string]any{"secret": "release-key"}}}})
	a.must(201, "POST", nsPath("default", "releaseplans"), map[string]any{"metadata": map[string]any{"name": "to-prod"},
		"spec": map[string]any{"application": "greet", "target": "prod", "data": map[string]any{"mapping": map[string]any{"defaults": map[string]any{"repository": "ignored.example.com/x"}}}}})
	return env
}

func scenario(name, url, path string, optional bool, want string) map[string]any {
	o := map[string]any{"metadata": map[string]any{"name": name}, "spec": map[string]any{"application": "greet",
		"resolverRef": map[string]any{"resolver": "git", "params": []any{map[string]any{"name": "url", "value": url},
			map[string]any{"name": "revision", "value": "main"}, map[string]any{"name": "pathInRepo", "value": path}}}}}
	if optional {
		o["metadata"].(map[string]any)["labels"] = map[string]any{"test.appstudio.openshift.io/optional": "true"}
	}
	if want != "" {
		o["spec"].(map[string]any)["params"] = []any{map[string]any{"name": "want", "value": want}}
	}
	return o
}

func cond(o map[string]any, typ string) map[string]any {
	st, _ := o["status"].(map[string]any)
	conds, _ := st["conditions"].([]any)
	for _, c := range conds {
		if m := c.(map[string]any); m["type"] == typ {
			return m
		}
	}
	return map[string]any{}
}

func waitSnapshotTests(t *testing.T, a api, name string) map[string]any {
	t.Helper()
	var s map[string]any
	eventuallyFor(t, "snapshot "+name+" tested", 90*time.Second, func() bool {
		r := a.do("GET", nsPath("default", "snapshots")+"/"+name, nil)
		s = r.Obj
		st := cond(s, "TestsPassed")["status"]
		return r.Code == 200 && (st == "True" || st == "False")
	})
	return s
}

func waitRelease(t *testing.T, a api, name string) map[string]any {
	t.Helper()
	var r map[string]any
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("release %s: %v", name, r)
			t.Logf("releases: %s", a.do("GET", nsPath("default", "releases"), nil).Body)
			t.Logf("snapshots: %s", a.do("GET", nsPath("default", "snapshots"), nil).Body)
		}
	})
	eventuallyFor(t, "release "+name+" finished", 90*time.Second, func() bool {
		resp := a.do("GET", nsPath("default", "releases")+"/"+name, nil)
		r = resp.Obj
		p := str(r, "status", "phase")
		return resp.Code == 200 && (p == "Succeeded" || p == "Failed")
	})
	return r
}

func checkReleased(t *testing.T, env releaseEnv, b, rel map[string]any) {
	t.Helper()
	if str(rel, "status", "attribution", "automated") != "true" || str(rel, "status", "policy", "passed") != "true" ||
		cond(rel, "Released")["status"] != "True" || cond(rel, "ManagedPipelineProcessed")["status"] != "True" {
		t.Fatalf("release status: %v", rel["status"])
	}
	commit, digest := str(b, "status", "commit"), str(b, "status", "artifact", "digest")
	prodRepo := env.prodHost + "/prod/hello"
	for _, tag := range []string{commit, "build-1", "latest"} {
		got, err := oci.Resolve(context.Background(), prodRepo+":"+tag, oci.Remote{PlainHTTP: true})
		if err != nil || got.Digest != digest {
			t.Fatalf("production %s:%s = %v (%v), want %s (the admission's mapping wins over the plan's)", prodRepo, tag, got.Digest, err, digest)
		}
	}
	// The copy carries the builder's evidence: it verifies at production.
	rep, err := attest.Verify(context.Background(), prodRepo+"@"+digest, env.f.signer.PublicKey(), oci.Remote{PlainHTTP: true},
		attest.VerifyOptions{BuilderID: DefaultBuilderID})
	if err != nil {
		t.Fatalf("verify at production: %v\n%v", err, rep)
	}
	checkReleaseKeySignature(t, env, prodRepo+"@"+digest)
	kiln := kilnCLI(t, env.f)
	name := str(rel, "metadata", "name")
	if out, err := kiln("describe", "release", name); err != nil || !strings.Contains(out, "Policy:") || !strings.Contains(out, "passed") {
		t.Fatalf("describe release: %v\n%s", err, out)
	}
	if out, err := kiln("release", "verdict", name, "--junit"); err != nil || !strings.Contains(out, "<testsuites") {
		t.Fatalf("release verdict --junit: %v\n%s", err, out)
	}
	if out, err := kiln("logs", "release/"+name); err != nil || !strings.Contains(out, "push-to-registry") || !strings.Contains(out, "hello") {
		t.Fatalf("kiln logs release/%s: %v\n%s", name, err, out)
	}
	snap := str(rel, "spec", "snapshot")
	if out, err := kiln("logs", "snapshot/"+snap, "--scenario", "smoke"); err != nil || !strings.Contains(out, "SUCCESS") {
		t.Fatalf("kiln logs snapshot/%s --scenario smoke: %v\n%s", snap, err, out)
	}
	if out, err := kiln("logs", "snapshot/"+snap); err == nil || !strings.Contains(err.Error(), "--scenario") {
		t.Fatalf("a snapshot log without a scenario: %v\n%s", err, out)
	}
}

// checkReleaseKeySignature runs the real cosign with the release key
// against the production registry.
func checkReleaseKeySignature(t *testing.T, env releaseEnv, ref string) {
	t.Helper()
	out, err := exec.Command("go", "tool", "-n", "cosign").Output()
	if err != nil {
		t.Logf("go tool cosign unavailable (%v): release signature checked by the copy's referrers only", err)
		return
	}
	der, _ := x509.MarshalPKIXPublicKey(&env.relKey.PublicKey)
	dir := t.TempDir()
	pub := filepath.Join(dir, "release.pub")
	writeFile(t, pub, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	cmd := exec.Command(strings.TrimSpace(string(out)), "verify", "--key", pub, "--insecure-ignore-tlog=true",
		"--new-bundle-format=false", "--allow-http-registry", "--allow-insecure-registry", ref)
	cmd.Env = append(cmd.Environ(), "HOME="+dir, "TUF_ROOT="+filepath.Join(dir, ".sigstore"), "SIGSTORE_NO_CACHE=true")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cosign verify --key release.pub %s: %v\n%s", ref, err, b)
	}
}

// checkAdversarial: each attempt to release what Kiln did not build, or
// what failed its tests, is rejected with the reason on the Release; a
// tenant can neither read the managed namespace's secrets nor admit its
// own releases.
func checkAdversarial(t *testing.T, env releaseEnv) {
	t.Helper()
	a, f := env.a, env.f
	ctx := context.Background()
	rem := oci.Remote{Token: f.AdminToken, RootCAs: f.caPool()}
	host := strings.TrimPrefix(f.URL, "https://")
	laptop := func(tag, greeting string) string {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "out", "greeting.txt"), greeting)
		d, err := oci.PushDirectory(ctx, host+"/default/hello:"+tag, dir, oci.PushOptions{Remote: rem})
		if err != nil {
			t.Fatal(err)
		}
		return host + "/default/hello@" + d.Digest
	}
	release := func(name, image string) map[string]any {
		a.must(201, "POST", nsPath("default", "snapshots"), map[string]any{"metadata": map[string]any{"name": name},
			"spec": map[string]any{"application": "greet", "components": []any{map[string]any{"name": "hello", "containerImage": image}}}})
		waitSnapshotTests(t, a, name)
		a.must(201, "POST", nsPath("default", "releases"), map[string]any{"metadata": map[string]any{"name": name},
			"spec": map[string]any{"snapshot": name, "releasePlan": "to-prod"}})
		return waitRelease(t, a, name)
	}
	rejected := func(r map[string]any, condType, reason, want string) {
		t.Helper()
		c := cond(r, condType)
		if str(r, "status", "phase") != "Failed" || c["reason"] != reason || !strings.Contains(c["message"].(string), want) {
			t.Fatalf("release %s: want %s=%s mentioning %q, got %v", str(r, "metadata", "name"), condType, reason, want, r["status"])
		}
		if str(r, "status", "attribution", "author") != "admin" || str(r, "status", "attribution", "automated") == "true" {
			t.Fatalf("attribution: %v", r["status"])
		}
	}

	// A laptop build pushed with the tenant's own credentials: no signature.
	rejected(release("laptop", laptop("laptop", "hello\n")), "PolicyPassed", "PolicyFailed", "signature")

	// Evidence signed by another key (a forged provenance copied from a
	// real build): the signature does not verify with the builder key.
	forged := laptop("forged", "hello, forged\n")
	other, _ := attest.LoadOrCreateKey(filepath.Join(t.TempDir(), "other.key"))
	prov, err := attest.NewStatement(attest.Artifact{Name: strings.Split(forged, "@")[0], Digest: strings.Split(forged, "@")[1]},
		attest.PredicateSLSA, map[string]any{"buildDefinition": map[string]any{"buildType": "https://kiln.dev/build/v1"},
			"runDetails": map[string]any{"builder": map[string]any{"id": DefaultBuilderID}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := attest.Publish(ctx, forged, other, attest.Evidence{Provenance: prov}, rem); err != nil {
		t.Fatal(err)
	}
	rejected(release("other-key", forged), "PolicyPassed", "PolicyFailed", "signature")

	// A tampered digest (nothing Kiln built has it): the required test
	// cannot even fetch it, so the release stops at validation.
	rejected(release("tampered", host+"/default/hello@sha256:"+strings.Repeat("ab", 32)), "Validated", "TestsFailed", "smoke (ERROR)")

	// A snapshot whose required test failed never reaches the policy.
	r := release("failing", laptop("failing", "evil\n"))
	rejected(r, "Validated", "TestsFailed", "smoke")
	if r["status"].(map[string]any)["policy"] != nil {
		t.Fatalf("policy ran for a snapshot that failed its tests: %v", r["status"])
	}

	// A tenant cannot read the managed namespace's secrets, nor create an
	// admission there or in its own namespace.
	alice := api{t: t, base: f.URL, token: userToken(t, a, "alice"), hc: f.HTTPClient()}
	alice.must(201, "POST", "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": "team-a"}})
	alice.must(403, "GET", "/api/v1/namespaces/prod/secrets/release-key", nil)
	alice.must(403, "GET", "/api/v1/namespaces/prod/secrets", nil)
	rpa := map[string]any{"metadata": map[string]any{"name": "mine"}, "spec": map[string]any{"applications": []any{"greet"}, "origin": "team-a", "policy": "release"}}
	alice.must(403, "POST", nsPath("prod", "releaseplanadmissions"), rpa)
	if r := alice.do("POST", nsPath("team-a", "releaseplanadmissions"), rpa); r.Code != 400 || !strings.Contains(string(r.Body), "managed namespaces") {
		t.Fatalf("admission in a tenant namespace: %d %s", r.Code, r.Body)
	}
}

// checkRerunFailedOnly re-runs the failed scenario (the optional lint)
// with the CLI; the passed smoke test is not run again.
func checkRerunFailedOnly(t *testing.T, env releaseEnv, snap string) {
	t.Helper()
	kiln := kilnCLI(t, env.f)
	if out, err := kiln("test", "rerun", snap, "--failed"); err != nil || !strings.Contains(out, "re-run of failed requested") {
		t.Fatalf("kiln test rerun: %v\n%s", err, out)
	}
	attempts := func(s map[string]any) map[string]string {
		out := map[string]string{}
		tests, _ := s["status"].(map[string]any)["tests"].([]any)
		for _, x := range tests {
			m := x.(map[string]any)
			out[m["scenario"].(string)] = str(m, "attempts") + "/" + str(m, "state")
		}
		return out
	}
	var got map[string]string
	eventuallyFor(t, "lint re-run", 60*time.Second, func() bool {
		s := env.a.must(200, "GET", nsPath("default", "snapshots")+"/"+snap, nil).Obj
		got = attempts(s)
		return got["lint"] == "2/Finished" && s["metadata"].(map[string]any)["labels"].(map[string]any)["test.appstudio.openshift.io/run"] == nil
	})
	if got["smoke"] != "1/Finished" {
		t.Fatalf("re-running failed tests re-ran a passed one: %v", got)
	}
	if out, err := kiln("test", "rerun", snap, "nosuch"); err == nil || !strings.Contains(err.Error(), `no scenario "nosuch"`) || !strings.Contains(err.Error(), "lint, smoke") {
		t.Fatalf("rerun of an unknown scenario: %v %s", err, out)
	}
}
