package executor

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestContentDigestNeverFollowsLinks: an output's links are digested by
// their target text; the files they name are never read (changing them
// leaves the digest alone), a linked directory is not entered, and a FIFO
// does not block.
func TestContentDigestNeverFollowsLinks(t *testing.T) {
	t.Parallel()
	keys := t.TempDir()
	secret := filepath.Join(keys, "secret.key")
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(secret, "one")
	out := t.TempDir()
	write(filepath.Join(out, "f"), "file")
	for name, target := range map[string]string{"key": secret, "keys": keys, "proc": "/proc/self/root" + secret} {
		if err := os.Symlink(target, filepath.Join(out, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(out, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	digest := func() string {
		done := make(chan string, 1)
		go func() {
			d, err := ContentDigest(out)
			if err != nil {
				t.Error(err)
			}
			done <- d
		}()
		select {
		case d := <-done:
			return d
		case <-time.After(10 * time.Second):
			t.Fatal("ContentDigest blocked")
			return ""
		}
	}
	before := digest()
	write(secret, "two")
	write(filepath.Join(keys, "more"), "three")
	if after := digest(); after != before {
		t.Fatalf("the digest read through a link: %s then %s", before, after)
	}
	write(filepath.Join(out, "f"), "changed")
	if digest() == before {
		t.Fatal("the digest ignores the output's own files")
	}
}

// TestPrefixedStaysInside: an image prefix climbing with ".." (Compile
// refuses it; this is the second line) cannot move the output out of the
// layer directory.
func TestPrefixedStaysInside(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	out := filepath.Join(base, "run", "output")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	layer, err := prefixed(out, "/../../../escaped/app")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(layer) != filepath.Join(base, "run") {
		t.Fatalf("layer directory %s", layer)
	}
	if _, err := os.Stat(filepath.Join(layer, "escaped", "app", "f")); err != nil {
		t.Fatalf("the output is not under the prefix inside the layer: %v", err)
	}
	if _, err := os.Stat(filepath.Join(base, "escaped")); err == nil {
		t.Fatal("the output was moved out of the layer directory")
	}
}
