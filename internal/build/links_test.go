package build

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
