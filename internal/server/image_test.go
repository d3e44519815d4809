package server

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/internal/oci"
)

// busyboxRootfs makes a minimal root filesystem from the static busybox.
func busyboxRootfs(t *testing.T) string {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("busybox not installed")
	}
	if out, _ := exec.Command("ldd", bb).CombinedOutput(); !strings.Contains(string(out), "not a dynamic") {
		t.Skip("busybox is not static")
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"sh", "echo", "cat", "mkdir"} {
		_ = os.Symlink("busybox", filepath.Join(root, "bin", l))
	}
	for _, d := range []string{"tmp", "workspace", "tekton", "kiln", "etc", "proc", "dev"} {
		_ = os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	return root
}

// TestStepRunsInAnImageFromTheRegistry builds with a step whose root
// filesystem is an OCI image pushed to the embedded registry, and refuses a
// step image from another tenant's namespace.
func TestStepRunsInAnImageFromTheRegistry(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	rootfs := busyboxRootfs(t)
	url, _ := gitRepo(t, map[string]string{"VERSION": "7\n"})
	f, a := buildFactory(t, Config{})
	a.must(201, "POST", "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": "other"}})
	host := strings.TrimPrefix(f.URL, "https://")
	rem := oci.Remote{Token: f.AdminToken, RootCAs: f.caPool()}
	for _, ref := range []string{host + "/default/tools:1", host + "/other/tools:1"} {
		if _, err := oci.PushImage(t.Context(), ref, oci.ImageSpec{Layers: []string{rootfs}}, oci.PushOptions{Remote: rem}); err != nil {
			t.Fatalf("pushing %s: %v", ref, err)
		}
	}
	for name, image := range map[string]string{"inimage": host + "/default/tools:1", "stolen": host + "/other/tools:1"} {
		comp := component(name, "greet")
		comp["spec"].(map[string]any)["source"].(map[string]any)["git"].(map[string]any)["url"] = url
		comp["spec"].(map[string]any)["build"] = map[string]any{"pollInterval": "0s", "pipelineSpec": imagePipeline(image)}
		a.must(201, "POST", nsPath("default", "components"), comp)
	}
	b := waitBuild(t, a, "inimage", 1)
	if str(b, "status", "phase") != "Succeeded" {
		log := a.do("GET", nsPath("default", "builds")+"/"+str(b, "metadata", "name")+"/log", nil)
		t.Fatalf("build in image: %v\n%s", b["status"], log.Body)
	}
	steps := b["status"].(map[string]any)["steps"].([]any)
	if d := str(steps[0].(map[string]any), "imageDigest"); !strings.HasPrefix(d, "sha256:") {
		t.Fatalf("step image digest not recorded: %v", steps)
	}
	if got := pullFile(t, f, str(b, "status", "artifact", "repository")+"@"+str(b, "status", "artifact", "digest"), "version.txt"); got != "7\n" {
		t.Fatalf("artifact content %q", got)
	}
	stolen := waitBuild(t, a, "stolen", 1)
	log := a.do("GET", nsPath("default", "builds")+"/"+str(stolen, "metadata", "name")+"/log", nil)
	if str(stolen, "status", "phase") != "Failed" || !strings.Contains(string(log.Body)+str(stolen, "status", "message"), "belongs to namespace") {
		t.Fatalf("a step image of another namespace was used: %v\n%s", stolen["status"], log.Body)
	}
}

func imagePipeline(image string) map[string]any {
	return map[string]any{"apiVersion": "tekton.dev/v1", "kind": "Task", "metadata": map[string]any{"name": "copy"},
		"spec": map[string]any{
			"workspaces": []any{map[string]any{"name": "source"}, map[string]any{"name": "output"}},
			"steps": []any{map[string]any{"name": "copy", "image": image,
				"script": "#!/bin/sh\ncat $(workspaces.source.path)/VERSION > $(workspaces.output.path)/version.txt\n"}},
		}}
}
