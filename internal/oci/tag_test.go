package oci

import (
	"os"
	"path/filepath"
	"testing"
)

func TestTagKeepsDigest(t *testing.T) {
	t.Parallel()
	h := startRegistry(t, t.TempDir())
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	desc, err := PushDirectory(t.Context(), h.ref("team-a/app:v1"), dir, PushOptions{Remote: h.remote(tokenA)})
	if err != nil {
		t.Fatal(err)
	}
	if err := Tag(t.Context(), h.ref("team-a/app@"+desc.Digest), []string{"build-2", "abc"}, h.remote(tokenA)); err != nil {
		t.Fatal(err)
	}
	got, err := Resolve(t.Context(), h.ref("team-a/app:build-2"), h.remote(tokenA))
	if err != nil || got.Digest != desc.Digest {
		t.Fatalf("tag resolves to %v, %v; want %s", got.Digest, err, desc.Digest)
	}
}
