package cli

import (
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/kilnbuild/kiln/internal/oci"
	"github.com/kilnbuild/kiln/internal/oci/ocitest"
)

// imageMarker is a file only the test image has.
const imageMarker = "etc/kiln-test-image"

// requireSandbox skips without bubblewrap or a static busybox (fails with
// KILN_REQUIRE_SANDBOX or CI set).
func requireSandbox(t *testing.T) string {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	if err == nil {
		if out, _ := exec.Command("ldd", bb).CombinedOutput(); !strings.Contains(string(out), "not a dynamic") {
			err = fmt.Errorf("%s is not static", bb)
		}
	}
	if _, e := exec.LookPath("bwrap"); e != nil {
		err = e
	}
	if err != nil {
		if os.Getenv("KILN_REQUIRE_SANDBOX") != "" || os.Getenv("CI") != "" {
			t.Fatalf("bubblewrap and busybox-static are required (scripts/test-deps.sh installs them): %v", err)
		}
		t.Skip(err)
	}
	return bb
}

// busyboxImage pushes an image of the host's static busybox (every applet
// linked, plus imageMarker) to reg and returns its reference and digest.
func busyboxImage(t *testing.T, reg *ocitest.Server) (string, string) {
	t.Helper()
	bb := requireSandbox(t)
	root := t.TempDir()
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, root, imageMarker, "busybox image\n")
	if err := os.Mkdir(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	list, err := exec.Command(bb, "--list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, applet := range strings.Fields(string(list)) {
		if applet != "busybox" {
			if err := os.Symlink("busybox", filepath.Join(root, "bin", applet)); err != nil {
				t.Fatal(err)
			}
		}
	}
	ref := reg.Host + "/team/busybox:1"
	d, err := oci.PushImage(t.Context(), ref, oci.ImageSpec{Layers: []string{root}}, oci.PushOptions{Remote: reg.Remote})
	if err != nil {
		t.Fatal(err)
	}
	return ref, d.Digest
}

// imageRepo writes a repository whose pipeline builds with the catalog's
// script task in image: the step copies the image's marker to the output.
func imageRepo(t *testing.T, image string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir, ".kiln/pipeline.yaml", `apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: in-image}
spec:
  workspaces: [{name: source}, {name: output}]
  tasks:
    - name: build
      taskRef: {name: script}
      params:
        - {name: image, value: "`+image+`"}
        - {name: script, value: "cat /`+imageMarker+` > seen.txt; test ! -e /usr/bin/bwrap"}
        - {name: outputs, value: [seen.txt]}
`)
	return dir
}

// checkImageRun checks that the run succeeded in the image and reported
// its digest.
func checkImageRun(t *testing.T, r result, ws, image, digest string) {
	t.Helper()
	r.must(t)
	if got, _ := os.ReadFile(filepath.Join(ws, "output", "seen.txt")); string(got) != "busybox image\n" {
		t.Errorf("the step did not run in the image: output %q\n%s", got, r.out)
	}
	if want := "image " + image + ": " + digest + "\n"; !strings.Contains(r.out, want) {
		t.Errorf("missing %q in:\n%s", want, r.out)
	}
}

// kiln run with a step image from a local OCI layout: unpacked into the
// user's cache (XDG_CACHE_HOME), run in the real sandbox, digest reported.
func TestRunStepImageFromOCILayout(t *testing.T) {
	reg := ocitest.Serve(t, registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	ref, digest := busyboxImage(t, reg)
	layoutDir := filepath.Join(t.TempDir(), "busybox")
	copyToLayout(t, ref, reg.Remote, layoutDir)
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	for _, image := range []string{"oci-layout:" + layoutDir, "oci-layout:" + layoutDir + "@" + digest} {
		ws := t.TempDir()
		r := kilnRunWith(t, nil, "--workspace", ws, imageRepo(t, image))
		checkImageRun(t, r, ws, image, digest)
	}
	if _, err := os.Stat(filepath.Join(cache, "kiln", "images", strings.Replace(digest, ":", "-", 1), imageMarker)); err != nil {
		t.Errorf("the image is not unpacked in the user's cache: %v", err)
	}
	r := kilnRunWith(t, nil, "--workspace", t.TempDir(), imageRepo(t, "oci-layout:"+t.TempDir()))
	if r.code == nil || !strings.Contains(r.out, "not an OCI image layout") {
		t.Errorf("an empty directory as the layout: %v\n%s", r.code, r.out)
	}
}

// kiln run pulls a step image over HTTPS from a registry that needs
// credentials: the CA from --ca-file, the credentials from the Docker
// config. Without either the pull fails.
func TestRunStepImageFromRegistry(t *testing.T) {
	reg := ocitest.StartRegistry(t, "registry-token", true)
	ref, digest := busyboxImage(t, reg)
	cache := t.TempDir()
	docker := t.TempDir()
	t.Setenv("DOCKER_CONFIG", docker)
	run := func(args ...string) (result, string) {
		ws := t.TempDir()
		return kilnRunWith(t, nil, append([]string{"--workspace", ws, "--image-cache", cache}, args...)...), ws
	}
	r, _ := run("--ca-file", reg.CAFile, imageRepo(t, ref))
	if r.code == nil || !strings.Contains(r.out, "UNAUTHORIZED") {
		t.Fatalf("pulled without credentials: %v\n%s", r.code, r.out)
	}
	auth := base64.StdEncoding.EncodeToString([]byte("someone:registry-token"))
	writeFile(t, docker, "config.json", `{"auths": {"`+reg.Host+`": {"auth": "`+auth+`"}}}`)
	r, _ = run(imageRepo(t, ref))
	if r.code == nil || !strings.Contains(r.out, "certificate") {
		t.Fatalf("trusted the registry without --ca-file: %v\n%s", r.code, r.out)
	}
	r, ws := run("--ca-file", reg.CAFile, imageRepo(t, ref))
	checkImageRun(t, r, ws, ref, digest)
}

// copyToLayout writes the image ref into a new OCI layout at dir.
func copyToLayout(t *testing.T, ref string, rem oci.Remote, dir string) {
	t.Helper()
	parsed, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(parsed, rem.RemoteOptions(t.Context())...)
	if err != nil {
		t.Fatal(err)
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
}
