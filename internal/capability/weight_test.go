package capability

import (
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
)

func TestSourceBytesCountsCodeFilesOnly(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"src/a.c":        {Data: make([]byte, 100)},
		"src/a.h":        {Data: make([]byte, 50)},
		"src/deep/x.cpp": {Data: make([]byte, 10)},
		"src/Y.C":        {Data: make([]byte, 7)}, // C++ by its upper-case extension
		"lib.rs":         {Data: make([]byte, 3)},
		"README.md":      {Data: make([]byte, 1000)},
		"doc/logo.png":   {Data: make([]byte, 5000)},
		"tests/data.bin": {Data: make([]byte, 4000)},
		"Makefile":       {Data: make([]byte, 400)},
		".git/objects.c": {Data: make([]byte, 999)}, // version control is not source
		"link.c":         {Data: []byte("src/a.c"), Mode: os.ModeSymlink},
	}
	got, err := SourceBytes(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(100 + 50 + 10 + 7 + 3); got != want {
		t.Errorf("SourceBytes = %d, want %d", got, want)
	}
}

func TestSourceBytesOfAnEmptyTree(t *testing.T) {
	t.Parallel()
	got, err := SourceBytes(fstest.MapFS{"README": {Data: []byte("hi")}})
	if err != nil || got != 0 {
		t.Errorf("SourceBytes = %d, %v; want 0, nil", got, err)
	}
}

// A code file that is a symbolic link out of the checkout is neither
// followed nor counted, and detection still succeeds.
func TestDetectWeighsWithoutFollowingLinks(t *testing.T) {
	t.Parallel()
	outside := filepath.Join(t.TempDir(), "big.c")
	if err := os.WriteFile(outside, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.c"), []byte("int main(void) { return 0; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "big.c")); err != nil {
		t.Skip("no symlinks here:", err)
	}
	s, err := Detect(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.SourceBytes != 29 {
		t.Errorf("SourceBytes = %d, want 29 (main.c only)", s.SourceBytes)
	}
	if st := s.Status("c0ffee"); st.SourceBytes != s.SourceBytes {
		t.Errorf("status.capabilities.sourceBytes = %d, want %d", st.SourceBytes, s.SourceBytes)
	}
}
