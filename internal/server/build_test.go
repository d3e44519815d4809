package server

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/oci"
)

// gitRepo creates a real git repository with files and returns its
// file:// URL and a function that commits changes.
func gitRepo(t testing.TB, files map[string]string) (string, func(map[string]string) string) {
	t.Helper()
	dir := t.TempDir()
	run := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@x", "GIT_COMMITTER_NAME=t",
			"GIT_COMMITTER_EMAIL=t@x", "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run("init", "-q", "-b", "main")
	commit := func(fs map[string]string) string {
		for name, content := range fs {
			p := filepath.Join(dir, name)
			_ = os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		run("add", "-A")
		run("commit", "-q", "-m", "change")
		return run("rev-parse", "HEAD")
	}
	commit(files)
	return "file://" + dir, commit
}

func requireSandbox(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("bwrap"); err != nil {
		if os.Getenv("CI") != "" || os.Getenv("KILN_REQUIRE_SANDBOX") != "" {
			t.Fatal("bubblewrap is required (scripts/test-deps.sh installs it)")
		}
		t.Skip("bubblewrap not installed")
	}
}

// buildFactory starts a factory that may read file:// repositories.
func buildFactory(t *testing.T, cfg Config) (*Factory, api) {
	t.Helper()
	cfg.DataDir, cfg.Listen, cfg.Log = t.TempDir(), "127.0.0.1:0", quietLog()
	cfg.AllowFileSources, cfg.RegistryNoSync = true, true
	f, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Stop() })
	a := api{t: t, base: f.URL, token: f.AdminToken, hc: f.HTTPClient()}
	a.must(201, "POST", nsPath("default", "applications"), app("greet"))
	return f, a
}

// scriptComponent is a component of application greet built by the catalog
// script pipeline on the host image; build settings merge into spec.build.
func scriptComponent(name, url string, build map[string]any) map[string]any {
	comp := component(name, "greet")
	comp["spec"].(map[string]any)["source"].(map[string]any)["git"].(map[string]any)["url"] = url
	b := map[string]any{"pipelineRef": "script", "pollInterval": "0s",
		"params": []any{map[string]any{"name": "image", "value": "host"}, map[string]any{"name": "outputs", "value": `["out"]`}}}
	for k, v := range build {
		b[k] = v
	}
	comp["spec"].(map[string]any)["build"] = b
	return comp
}

const makefile = "all:\n\tmkdir -p out\n\techo \"hello from $$(cat VERSION)\" > out/greeting.txt\n"

// TestCommitToArtifact is the vertical slice: a component pointing at a
// real git repository is built in the sandbox on creation, the artifact is
// pushed to the embedded registry, a new commit builds again, and an
// unchanged rebuild is a cache hit.
func TestCommitToArtifact(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	url, _ := gitRepo(t, map[string]string{"Makefile": makefile, "VERSION": "1.0\n"})
	f, a := buildFactory(t, Config{})
	a.must(201, "POST", nsPath("default", "components"), scriptComponent("hello", url, map[string]any{
		"params": []any{map[string]any{"name": "image", "value": "host"}, map[string]any{"name": "outputs", "value": `["out/greeting.txt"]`}}}))

	first := waitBuild(t, a, "hello", 1)
	if str(first, "status", "phase") != "Succeeded" {
		log := a.do("GET", nsPath("default", "builds")+"/"+str(first, "metadata", "name")+"/log", nil)
		t.Fatalf("first build: %s\n%v\nlog:\n%s", str(first, "status", "message"), first["status"], log.Body)
	}
	digest := str(first, "status", "artifact", "digest")
	repo := str(first, "status", "artifact", "repository")
	content := pullFile(t, f, repo+"@"+digest, "out/greeting.txt")
	if content != "hello from 1.0\n" {
		t.Fatalf("artifact content %q", content)
	}
	craneSeesArtifact(t, f, repo, str(first, "status", "commit"), digest)
	logs := a.must(200, "GET", nsPath("default", "builds")+"/"+str(first, "metadata", "name")+"/log", nil)
	if !strings.Contains(string(logs.Body), "pushed") {
		t.Fatalf("log lacks the push:\n%s", logs.Body)
	}
	c := a.must(200, "GET", nsPath("default", "components")+"/hello", nil).Obj
	if str(c, "status", "latestArtifact") != digest || str(c, "status", "lastBuiltCommit") != str(first, "status", "commit") {
		t.Fatalf("component status not updated: %v", c["status"])
	}

	// Same inputs, manual rebuild: a cache hit that reuses the artifact.
	a.must(201, "POST", nsPath("default", "builds"), map[string]any{"metadata": map[string]any{"generateName": "hello-"},
		"spec": map[string]any{"component": "hello", "reason": map[string]any{"type": "manual"}}})
	again := waitBuild(t, a, "hello", 2)
	if str(again, "status", "cachedFrom") != str(first, "metadata", "name") || str(again, "status", "artifact", "digest") != digest {
		t.Fatalf("rebuild with identical inputs was not a cache hit: %v", again["status"])
	}
}

// waitBuild waits for the component's build number n to finish.
func waitBuild(t testing.TB, a api, component string, n int) map[string]any {
	t.Helper()
	return waitBuildIn(t, a, "default", component, n)
}

// waitBuildIn waits for build number n of a component of namespace ns.
func waitBuildIn(t testing.TB, a api, ns, component string, n int) map[string]any {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		list := a.must(200, "GET", nsPath(ns, "builds")+"?fieldSelector=spec.component%3D"+component, nil).Obj
		for _, it := range list["items"].([]any) {
			b := it.(map[string]any)
			phase := str(b, "status", "phase")
			if str(b, "status", "buildNumber") == strconv.Itoa(n) && (phase == "Succeeded" || phase == "Failed" || phase == "Cancelled") {
				return b
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("build %d of %s did not finish", n, component)
	return nil
}

// pullFile pulls an artifact with the OCI client as the admin and returns
// one file of it.
func pullFile(t *testing.T, f *Factory, ref, file string) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := oci.Pull(t.Context(), ref, dir, oci.Remote{Token: f.AdminToken, RootCAs: f.caPool()}); err != nil {
		t.Fatalf("pulling %s: %v", ref, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		entries, _ := os.ReadDir(dir)
		t.Fatalf("artifact lacks %s (has %v): %v", file, entries, err)
	}
	return string(b)
}

// craneSeesArtifact checks the built artifact with an independent client:
// go-containerregistry's crane, logged in with the admin's Kiln token.
func craneSeesArtifact(t *testing.T, f *Factory, repo, commit, digest string) {
	t.Helper()
	out, err := exec.Command("go", "tool", "-n", "crane").Output()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("go tool crane is required: %v", err)
		}
		t.Skipf("go tool crane unavailable: %v", err)
	}
	home := t.TempDir()
	ca := filepath.Join(home, "ca.pem")
	if err := os.WriteFile(ca, f.CAPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	crane := func(args ...string) string {
		cmd := exec.Command(strings.TrimSpace(string(out)), args...)
		cmd.Env = append(os.Environ(), "HOME="+home, "DOCKER_CONFIG="+filepath.Join(home, ".docker"), "SSL_CERT_FILE="+ca)
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("crane %v: %v\n%s", args, err, b)
		}
		return strings.TrimSpace(string(b))
	}
	host := strings.SplitN(repo, "/", 2)[0]
	crane("auth", "login", host, "-u", "kiln", "-p", f.AdminToken)
	if got := crane("digest", repo+":"+commit); got != digest {
		t.Fatalf("crane digest %s:%s = %s, want %s", repo, commit, got, digest)
	}
	if tags := crane("ls", repo); !strings.Contains(tags, "build-1") || !strings.Contains(tags, commit) {
		t.Fatalf("crane ls %s: %s", repo, tags)
	}
}
