package oci

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Artifacts that push files as titled layers (ORAS, Debian builds) pull
// into those files; a title cannot climb out of the destination.
func TestPullTitledLayers(t *testing.T) {
	t.Parallel()
	tr := startRegistry(t, t.TempDir())
	blob := func(title, data string) Blob {
		return Blob{MediaType: "application/vnd.debian.binary-package", Data: []byte(data), Annotations: map[string]string{AnnotationTitle: title}}
	}
	desc, err := PushArtifact(t.Context(), tr.ref("team-a/debs:1"), []Blob{blob("hello_1.0_all.deb", "deb bytes"),
		blob("hello_1.0_amd64.buildinfo", "buildinfo")}, PushOptions{Remote: tr.remote(tokenA)})
	mustNil(t, err)
	dst := t.TempDir()
	_, err = Pull(t.Context(), tr.ref("team-a/debs@"+desc.Digest), dst, tr.remote(tokenA))
	mustNil(t, err)
	got, err := os.ReadFile(filepath.Join(dst, "hello_1.0_all.deb"))
	if err != nil || string(got) != "deb bytes" {
		t.Fatalf("titled layer: %v %q", err, got)
	}
	for _, title := range []string{"../escape.deb", ".wh.hello_1.0_all.deb"} {
		desc, err := PushArtifact(t.Context(), tr.ref("team-a/evil:1"), []Blob{blob(title, "x")}, PushOptions{Remote: tr.remote(tokenA)})
		mustNil(t, err)
		out := filepath.Join(t.TempDir(), "out")
		_, err = Pull(t.Context(), tr.ref("team-a/evil@"+desc.Digest), out, tr.remote(tokenA))
		if err == nil || !strings.Contains(err.Error(), "layer 0") {
			t.Fatalf("title %q: err = %v", title, err)
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(out), "escape.deb")); err == nil {
			t.Fatalf("title %q wrote outside the destination", title)
		}
	}
	// An untitled non-tar layer is still refused.
	desc, err = PushArtifact(t.Context(), tr.ref("team-a/raw:1"), []Blob{{MediaType: "application/octet-stream", Data: []byte("x")}}, PushOptions{Remote: tr.remote(tokenA)})
	mustNil(t, err)
	if _, err := Pull(t.Context(), tr.ref("team-a/raw@"+desc.Digest), t.TempDir(), tr.remote(tokenA)); err == nil || !strings.Contains(err.Error(), "not a tar archive") {
		t.Fatalf("untitled layer: err = %v", err)
	}
}
