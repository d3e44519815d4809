package capability

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/tenantfs"
)

// TestDetectConfinedToTheTree: every manifest Kiln reads (go.mod, spec
// files, package.json, pyproject.toml, .kiln/capabilities.yaml) is refused
// when it is a link out of the tree — absolute, "..", /proc/self, through
// a linked directory, by a chain — with an error naming the link; links
// inside the tree are followed.
func TestDetectConfinedToTheTree(t *testing.T) {
	t.Parallel()
	keys := filepath.Join(t.TempDir(), "keys")
	if err := os.MkdirAll(filepath.Join(keys, ".kiln"), 0o700); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(keys, "secret.key")
	for _, p := range []string{secret, filepath.Join(keys, ".kiln", "capabilities.yaml")} {
		if err := os.WriteFile(p, []byte("module SECRET-c0ffee\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cwd, _ := os.Getwd()
	fromCwd, _ := filepath.Rel(cwd, secret)
	cases := map[string]map[string]string{
		"go.mod":                  {"go.mod": secret},
		"greet.spec":              {"greet.spec": strings.Repeat("../", 30) + secret[1:]},
		"package.json":            {"package.json": "/proc/self/cwd/" + fromCwd},
		"pyproject.toml":          {"pyproject.toml": "/proc/self/root" + secret},
		".kiln":                   {".kiln": keys},
		".kiln/capabilities.yaml": {".kiln/capabilities.yaml": "../a", "a": "b", "b": secret},
	}
	for link, links := range cases {
		dir := t.TempDir()
		for name, target := range links {
			if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
		}
		_, err := Detect(dir)
		want := link + " is a symbolic link leaving the repository"
		if !errors.Is(err, tenantfs.ErrEscapes) || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "SECRET-c0ffee") {
			t.Errorf("%s: %v, want %q", link, err, want)
		}
	}
	// Inside: followed.
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "mod"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "mod", "go.mod"), []byte("module example.com/in\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("mod/go.mod", filepath.Join(dir, "go.mod")); err != nil {
		t.Fatal(err)
	}
	s, err := Detect(dir)
	if err != nil || len(s.Provides) != 1 || s.Provides[0].Name != "golang(example.com/in)" {
		t.Errorf("link inside: %+v %v", s, err)
	}
}

// TestDetectFIFODoesNotBlock: a FIFO where a manifest is expected is an
// error, at once.
func TestDetectFIFODoesNotBlock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "go.mod"), 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := Detect(dir); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "go.mod: not a regular file") {
			t.Errorf("fifo: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Detect blocked on a FIFO")
	}
}
