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

func TestUntagKeepsTheManifest(t *testing.T) {
	t.Parallel()
	h := startRegistry(t, t.TempDir())
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	desc, err := PushDirectory(t.Context(), h.ref("team-a/app:v1"), dir, PushOptions{Remote: h.remote(tokenA), Tags: []string{"build-2"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := Untag(t.Context(), h.ref("team-a/app"), "build-2", h.remote(tokenA)); err != nil {
		t.Fatal(err)
	}
	if _, err := Resolve(t.Context(), h.ref("team-a/app:build-2"), h.remote(tokenA)); err == nil {
		t.Fatal("the tag still resolves")
	}
	for _, ref := range []string{"team-a/app:v1", "team-a/app@" + desc.Digest} {
		if got, err := Resolve(t.Context(), h.ref(ref), h.remote(tokenA)); err != nil || got.Digest != desc.Digest {
			t.Fatalf("%s after untagging: %v, %v", ref, got.Digest, err)
		}
	}
	if err := Untag(t.Context(), h.ref("team-a/app"), "build-2", h.remote(tokenA)); err != nil {
		t.Fatalf("untagging a missing tag: %v", err)
	}
	if err := Untag(t.Context(), h.ref("team-a/none"), "build-2", h.remote(tokenA)); err != nil {
		t.Fatalf("untagging in a missing repository: %v", err)
	}
}
