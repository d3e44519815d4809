package server

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/cli"
)

// kubectlEnv starts a factory and writes a kubeconfig for it with
// `kiln kubeconfig`, so the real kubectl can drive it.
func kubectlEnv(t *testing.T) (f *Factory, kubectl func(args ...string) (string, error)) {
	t.Helper()
	if _, err := exec.LookPath("kubectl"); err != nil {
		if os.Getenv("CI") != "" || os.Getenv("KILN_REQUIRE_KUBECTL") != "" {
			t.Fatal("kubectl is required (scripts/test-deps.sh installs it)")
		}
		t.Skip("kubectl not installed")
	}
	f = testFactory(t, "")
	var out bytes.Buffer
	root := cli.NewRootCommand()
	root.SetArgs([]string{"kubeconfig", "--config", filepath.Join(f.cfg.DataDir, ClientConfigName)})
	root.SetOut(&out)
	if err := root.Execute(); err != nil {
		t.Fatalf("kiln kubeconfig: %v", err)
	}
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	return f, func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "kubectl", args...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kc, "HOME="+home)
		b, err := cmd.CombinedOutput()
		return string(b), err
	}
}

func mustKubectl(t *testing.T, kubectl func(...string) (string, error), args ...string) string {
	t.Helper()
	out, err := kubectl(args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

const kubectlManifest = `apiVersion: kiln.dev/v1alpha1
kind: Application
metadata:
  name: greet
spec:
  description: hello
---
apiVersion: kiln.dev/v1alpha1
kind: Component
metadata:
  name: cli
  labels: {tier: cli}
spec:
  application: greet
  source:
    git:
      url: https://example.com/greet-cli.git
`

func TestKubectlWorksAgainstKiln(t *testing.T) {
	t.Parallel()
	_, kubectl := kubectlEnv(t)
	manifest := filepath.Join(t.TempDir(), "app.yaml")
	_ = os.WriteFile(manifest, []byte(kubectlManifest), 0o644)

	out := mustKubectl(t, kubectl, "api-resources")
	for _, want := range []string{"components", "kiln.dev/v1alpha1", "namespaces"} {
		if !strings.Contains(out, want) {
			t.Fatalf("api-resources lacks %s:\n%s", want, out)
		}
	}
	mustKubectl(t, kubectl, "create", "namespace", "team-k")
	out = mustKubectl(t, kubectl, "apply", "-n", "team-k", "-f", manifest)
	if strings.Count(out, "created") != 2 {
		t.Fatalf("first apply: %s", out)
	}
	out = mustKubectl(t, kubectl, "apply", "-n", "team-k", "-f", manifest)
	if strings.Count(out, "unchanged") != 2 {
		t.Fatalf("re-apply should change nothing: %s", out)
	}
	out = mustKubectl(t, kubectl, "get", "components", "-n", "team-k")
	if !strings.Contains(out, "greet-cli.git") || !strings.Contains(out, "APPLICATION") {
		t.Fatalf("table output: %s", out)
	}
	out = mustKubectl(t, kubectl, "get", "comp", "cli", "-n", "team-k", "-o", "yaml")
	if !strings.Contains(out, "ownerReferences") || !strings.Contains(out, "resourceVersion") {
		t.Fatalf("-o yaml: %s", out)
	}
	out = mustKubectl(t, kubectl, "get", "components", "-A", "-l", "tier=cli")
	if !strings.Contains(out, "team-k") {
		t.Fatalf("-A -l: %s", out)
	}
	checkKubectlWatch(t, kubectl)
	out = mustKubectl(t, kubectl, "delete", "application", "greet", "-n", "team-k")
	if !strings.Contains(out, "deleted") {
		t.Fatalf("delete: %s", out)
	}
	eventually(t, "component garbage-collected", func() bool {
		out, _ := kubectl("get", "components", "-n", "team-k", "-o", "name")
		return strings.TrimSpace(out) == "" || strings.Contains(out, "No resources")
	})
	bad := strings.Replace(kubectlManifest, "url:", "urll:", 1)
	_ = os.WriteFile(manifest, []byte(bad), 0o644)
	if out, err := kubectl("apply", "-n", "team-k", "-f", manifest); err == nil || !strings.Contains(out, "spec.source.git.urll") {
		t.Fatalf("unknown field not rejected with its path: %v\n%s", err, out)
	}
}

// checkKubectlWatch runs `kubectl get -w` and expects a row for a change made
// while it watches.
func checkKubectlWatch(t *testing.T, kubectl func(...string) (string, error)) {
	done := make(chan string, 1)
	go func() {
		out, _ := kubectl("get", "components", "-n", "team-k", "-w", "--request-timeout=3s")
		done <- out
	}()
	time.Sleep(700 * time.Millisecond)
	mustKubectl(t, kubectl, "label", "component", "cli", "-n", "team-k", "watched=yes")
	out := <-done
	if strings.Count(out, "greet-cli.git") < 2 {
		t.Fatalf("kubectl get -w did not show the change:\n%s", out)
	}
}
