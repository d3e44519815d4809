package oci

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// crane runs `go tool crane` (pinned by the tool directive in go.mod) with
// its own docker config directory and Kiln's test CA as the only root.
type crane struct {
	t   *testing.T
	bin string
	env []string
}

func newCrane(t *testing.T, tr *testRegistry) *crane {
	t.Helper()
	// -n builds (or finds in the build cache) and prints the binary's path.
	out, err := exec.Command("go", "tool", "-n", "crane").Output()
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv("KILN_REQUIRE_CRANE") != "" {
			t.Fatalf("go tool crane is required here: %v\n%s", err, out)
		}
		t.Skipf("go tool crane unavailable: %v\n%s", err, out)
	}
	home := t.TempDir()
	ca := filepath.Join(home, "ca.pem")
	mustNil(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tr.srv.Certificate().Raw}), 0o644))
	env := append(os.Environ(), "HOME="+home, "DOCKER_CONFIG="+filepath.Join(home, ".docker"), "SSL_CERT_FILE="+ca)
	return &crane{t: t, bin: strings.TrimSpace(string(out)), env: env}
}

func (c *crane) run(args ...string) (string, error) {
	cmd := exec.Command(c.bin, args...)
	cmd.Env = c.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

func (c *crane) must(args ...string) string {
	c.t.Helper()
	out, err := c.run(args...)
	if err != nil {
		c.t.Fatalf("crane %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func TestCraneInteroperates(t *testing.T) {
	t.Parallel()
	tr := startRegistry(t, t.TempDir())
	c := newCrane(t, tr)
	ctx := context.Background()
	src := t.TempDir()
	writeTree(t, src, map[string]string{"hello.txt": "hello from kiln"})
	art, err := PushDirectory(ctx, tr.ref("team-a/app:v1"), src, PushOptions{Remote: tr.remote(tokenA), Tags: []string{"b42"}})
	mustNil(t, err)
	img, err := PushImage(ctx, tr.ref("team-a/img:v1"), ImageSpec{Layers: []string{src}}, PushOptions{Remote: tr.remote(tokenA)})
	mustNil(t, err)

	// Anonymous crane is challenged and refused.
	if out, err := c.run("ls", tr.ref("team-a/app")); err == nil || !strings.Contains(out, "UNAUTHORIZED") {
		t.Fatalf("anonymous crane ls: %v\n%s", err, out)
	}
	c.must("auth", "login", tr.host, "-u", "kiln", "-p", tokenA)

	if got := strings.Fields(c.must("ls", tr.ref("team-a/app"))); strings.Join(got, ",") != "b42,v1" {
		t.Fatalf("crane ls = %v", got)
	}
	if got := strings.TrimSpace(c.must("digest", tr.ref("team-a/app:b42"))); got != art.Digest {
		t.Fatalf("crane digest = %s, want %s", got, art.Digest)
	}
	var m struct {
		ArtifactType string            `json:"artifactType"`
		Annotations  map[string]string `json:"annotations"`
	}
	mustNil(t, json.Unmarshal([]byte(c.must("manifest", tr.ref("team-a/app:v1"))), &m))
	if m.ArtifactType != DefaultArtifactType || m.Annotations[AnnotationCreated] == "" {
		t.Fatalf("crane manifest = %+v", m)
	}

	export := filepath.Join(t.TempDir(), "fs.tar")
	c.must("export", tr.ref("team-a/img:v1"), export)
	if got := tarFile(t, export, "hello.txt"); got != "hello from kiln" {
		t.Fatalf("exported hello.txt = %q", got)
	}
	// crane pushes too (copy = pull + blob mount/upload + manifest put).
	c.must("copy", tr.ref("team-a/img:v1"), tr.ref("team-a/copy:v1"))
	if got, err := Resolve(ctx, tr.ref("team-a/copy:v1"), tr.remote(tokenA)); err != nil || got.Digest != img.Digest {
		t.Fatalf("copied image = %+v, %v", got, err)
	}
	if out, err := c.run("copy", tr.ref("team-a/img:v1"), tr.ref("team-b/stolen:v1")); err == nil || !strings.Contains(out, "403 Forbidden") {
		t.Fatalf("crane copy into team-b: %v\n%s", err, out)
	}
}

func tarFile(t *testing.T, path, name string) string {
	t.Helper()
	f, err := os.Open(path)
	mustNil(t, err)
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			t.Fatalf("%s not in %s", name, path)
		}
		mustNil(t, err)
		if strings.TrimPrefix(h.Name, "./") == name {
			b, err := io.ReadAll(tr)
			mustNil(t, err)
			return string(b)
		}
	}
}
