package tenantfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const secret = "TOP-SECRET-KEY-MATERIAL"

// hostile builds a tree beside a secret file outside it, with every kind
// of link a tenant can commit or a step can make.
func hostile(t *testing.T) (tree, secretFile string) {
	t.Helper()
	base := t.TempDir()
	outside := filepath.Join(base, "data", "keys")
	tree = filepath.Join(base, "repo")
	for _, d := range []string{outside, filepath.Join(tree, "sub"), filepath.Join(tree, ".kiln")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	secretFile = filepath.Join(outside, "secret.key")
	write(t, secretFile, secret)
	write(t, filepath.Join(tree, "ok.yaml"), "fine")
	write(t, filepath.Join(tree, "sub", "inner.yaml"), "inner")
	cwd, _ := os.Getwd()
	relCwd, _ := filepath.Rel(cwd, secretFile)
	links := map[string]string{
		"abs":            secretFile,
		"rel":            strings.Repeat("../", 20) + strings.TrimPrefix(secretFile, "/"),
		"proc-cwd":       "/proc/self/cwd/" + relCwd,
		"proc-root":      "/proc/self/root" + secretFile,
		"keysdir":        outside,
		"chain0":         "chain1",
		"chain1":         "sub/chain2",
		"sub/chain2":     "../abs",
		"loop":           "loop",
		"inside":         "sub/inner.yaml",
		"insidechain":    "inside",
		"sub/up":         "../ok.yaml",
		"dangling":       "missing",
		".kiln/pipeline": "../keysdir/secret.key",
		"devnull":        "/dev/null",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(tree, name)); err != nil {
			t.Fatal(err)
		}
	}
	return tree, secretFile
}

func write(t *testing.T, p, content string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func open(t *testing.T, dir string) *Tree {
	t.Helper()
	tr, err := Open(dir, "the repository")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// TestLinksLeavingAreRefused: whatever the link, reading through it fails
// with an error naming the link, and the secret's content is nowhere.
func TestLinksLeavingAreRefused(t *testing.T) {
	t.Parallel()
	dir, secretFile := hostile(t)
	tr := open(t, dir)
	cases := map[string]string{ // name read -> link the error names
		"abs":                "abs",
		"rel":                "rel",
		"proc-cwd":           "proc-cwd",
		"proc-root":          "proc-root",
		"keysdir/secret.key": "keysdir",
		"chain0":             "chain0",
		".kiln/pipeline":     ".kiln/pipeline",
		"devnull":            "devnull",
	}
	for name, link := range cases {
		data, err := tr.ReadFile(name, 1<<20)
		if err == nil || !errors.Is(err, ErrEscapes) {
			t.Errorf("%s: read %q, err %v; want ErrEscapes", name, data, err)
			continue
		}
		want := link + " is a symbolic link leaving the repository"
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %q, want it to say %q", name, err, want)
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), secretFile) {
			t.Errorf("%s: error %q reveals the secret or its path", name, err)
		}
	}
	// The target really is readable by the process: only the tree stops it.
	if b, err := os.ReadFile(filepath.Join(dir, "abs")); err != nil || string(b) != secret {
		t.Fatalf("the test's link does not reach the secret: %q %v", b, err)
	}
}

func TestNamesLeavingAreRefused(t *testing.T) {
	t.Parallel()
	dir, secretFile := hostile(t)
	tr := open(t, dir)
	for _, name := range []string{secretFile, "../data/keys/secret.key", "sub/../../data/keys/secret.key", "/etc/passwd", "a\x00b"} {
		if _, err := tr.ReadFile(name, 1<<20); !errors.Is(err, ErrEscapes) || !strings.Contains(err.Error(), "is not a relative path inside the repository") {
			t.Errorf("%q: err %v, want a path outside the repository", name, err)
		}
	}
	if _, err := tr.Sub("keysdir", "keys"); !errors.Is(err, ErrEscapes) {
		t.Errorf("Sub through a link leaving: %v", err)
	}
}

func TestLinksInsideAreFollowed(t *testing.T) {
	t.Parallel()
	dir, _ := hostile(t)
	tr := open(t, dir)
	for name, want := range map[string]string{"ok.yaml": "fine", "inside": "inner", "insidechain": "inner",
		"sub/up": "fine", "sub/../ok.yaml": "fine", "./sub/inner.yaml": "inner"} {
		if b, err := tr.ReadFile(name, 100); err != nil || string(b) != want {
			t.Errorf("%s: %q %v, want %q", name, b, err, want)
		}
	}
}

func TestLoopAndMissing(t *testing.T) {
	t.Parallel()
	dir, _ := hostile(t)
	tr := open(t, dir)
	_, err := tr.ReadFile("loop", 100)
	if !errors.Is(err, ErrEscapes) || !strings.Contains(err.Error(), "loop is a symbolic link that loops") {
		t.Errorf("loop: %v", err)
	}
	for _, name := range []string{"dangling", "nothing-here", "sub/nothing"} {
		_, err := tr.ReadFile(name, 100)
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "does not exist in the repository") {
			t.Errorf("%s: %v, want not-exist", name, err)
		}
	}
}

// TestSpecialFiles: a FIFO is refused without blocking, a directory is not
// a file, and reads are bounded.
func TestSpecialFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("fifo", filepath.Join(dir, "to-fifo")); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "big"), strings.Repeat("x", 101))
	tr := open(t, dir)
	done := make(chan error, 1)
	go func() {
		_, err := tr.ReadFile("to-fifo", 100)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), "to-fifo is a FIFO, not a regular file") {
			t.Errorf("fifo: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reading a FIFO blocked")
	}
	if _, err := tr.ReadFile(".", 100); !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("directory: %v", err)
	}
	if _, err := tr.ReadFile("big", 100); !errors.Is(err, ErrTooLarge) || err.Error() != "big is larger than the limit of 100 bytes" {
		t.Errorf("big: %v", err)
	}
	if b, err := tr.ReadFile("big", 101); err != nil || len(b) != 101 {
		t.Errorf("big at its size: %d %v", len(b), err)
	}
	// ReadDir does not block on a FIFO either.
	if _, err := tr.ReadDir("fifo"); err == nil {
		t.Error("ReadDir of a FIFO succeeded")
	}
}

// TestWalkDoesNotFollow: a walk lists links as links and never enters a
// linked directory.
func TestWalkDoesNotFollow(t *testing.T) {
	t.Parallel()
	dir, _ := hostile(t)
	tr := open(t, dir)
	seen := map[string]fs.FileMode{}
	err := tr.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		seen[p] = info.Mode().Type()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := seen["keysdir/secret.key"]; ok {
		t.Error("the walk entered a linked directory")
	}
	if seen["keysdir"] != fs.ModeSymlink || seen["abs"] != fs.ModeSymlink || seen["sub/inner.yaml"] != 0 {
		t.Errorf("walk saw %v", seen)
	}
	if target, err := tr.Readlink("abs"); err != nil || !strings.HasSuffix(target, "secret.key") {
		t.Errorf("readlink: %q %v", target, err)
	}
}

func TestFS(t *testing.T) {
	t.Parallel()
	dir, _ := hostile(t)
	fsys := open(t, dir).FS(3)
	if _, err := fs.ReadFile(fsys, "abs"); !errors.Is(err, ErrEscapes) {
		t.Errorf("ReadFile abs: %v", err)
	}
	if _, err := fs.Stat(fsys, "keysdir/secret.key"); !errors.Is(err, ErrEscapes) {
		t.Errorf("Stat through a linked directory: %v", err)
	}
	if _, err := fs.ReadFile(fsys, "ok.yaml"); !errors.Is(err, ErrTooLarge) {
		t.Errorf("ReadFile over the limit: %v", err)
	}
	if b, err := fs.ReadFile(open(t, dir).FS(-1), "inside"); err != nil || string(b) != "inner" {
		t.Errorf("ReadFile inside: %q %v", b, err)
	}
	entries, err := fs.ReadDir(fsys, "sub")
	if err != nil || len(entries) != 3 {
		t.Errorf("ReadDir sub: %v %v", entries, err)
	}
}

func TestDirPath(t *testing.T) {
	t.Parallel()
	dir, _ := hostile(t)
	tr := open(t, dir)
	if p, err := tr.DirPath("sub", false); err != nil || p != filepath.Join(dir, "sub") {
		t.Errorf("sub: %q %v", p, err)
	}
	if p, err := tr.DirPath("made/deep", true); err != nil || p != filepath.Join(dir, "made", "deep") {
		t.Errorf("create: %q %v", p, err)
	}
	if _, err := tr.DirPath("missing", false); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
	if err := os.Symlink("sub", filepath.Join(dir, "insidedir")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"keysdir", "keysdir/x", "insidedir", "insidedir/new"} {
		_, err := tr.DirPath(name, true)
		if !errors.Is(err, ErrEscapes) || !strings.Contains(err.Error(), " is a symbolic link") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "sub", "new")); err == nil {
		t.Error("DirPath created a directory through a link")
	}
	if _, err := tr.DirPath("ok.yaml", false); !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("file: %v", err)
	}
}

// TestDirPathFor: the directories DirPathFor makes belong to the given
// user; those that exist are left as they are, and links are refused as
// by DirPath.
func TestDirPathFor(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("giving directories away needs root")
	}
	dir, _ := hostile(t)
	tr := open(t, dir)
	const uid, gid = 2_000_000_123, 2_000_000_124
	if p, err := tr.DirPathFor("sub/made/deep", uid, gid); err != nil || p != filepath.Join(dir, "sub", "made", "deep") {
		t.Fatalf("create: %q %v", p, err)
	}
	for name, want := range map[string]uint32{"sub": uint32(os.Geteuid()), "sub/made": uid, "sub/made/deep": uid} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != want || want == uid && st.Gid != gid {
			t.Errorf("%s belongs to %d:%d, want uid %d", name, st.Uid, st.Gid, want)
		}
	}
	if _, err := tr.DirPathFor("keysdir/x", uid, gid); !errors.Is(err, ErrEscapes) {
		t.Errorf("through a link: %v", err)
	}
}
