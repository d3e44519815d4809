package oci

import (
	"archive/tar"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// FuzzExtract: whatever a layer tar holds, extracting it writes nothing
// outside the root (not through "..", absolute names, symlinks or hard
// links planted by earlier entries), and leaves no device node, FIFO,
// socket, setuid or setgid file inside it. Errors are fine; escapes and
// panics are not.
func FuzzExtract(f *testing.F) {
	for _, hs := range extractSeeds() {
		f.Add(layerTar(f, hs...).Bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		base := t.TempDir()
		root := filepath.Join(base, "d1", "d2", "d3", "root")
		outside := filepath.Join(base, "outside")
		mustNil(t, os.MkdirAll(root, 0o755))
		mustNil(t, os.MkdirAll(outside, 0o755))
		mustNil(t, os.WriteFile(filepath.Join(outside, "sentinel"), []byte("untouched"), 0o644))
		_ = extractTar(t, root, bytesBuffer(data))
		checkOutsideUntouched(t, base, root)
		checkNoSpecialFiles(t, root)
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				_ = os.Chmod(p, 0o755) // let t.TempDir clean up read-only directories
			}
			return nil
		})
	})
}

// extractSeeds are layers that try every escape Kiln guards against.
func extractSeeds() [][]*tar.Header {
	return [][]*tar.Header{
		{{Name: "a/b/file", Typeflag: tar.TypeReg}, {Name: "a/dir/", Typeflag: tar.TypeDir, Mode: 0o555}},
		{{Name: "../../../../outside/sentinel", Typeflag: tar.TypeReg}},
		{{Name: "/abs", Typeflag: tar.TypeReg}, {Name: "./x/../../y", Typeflag: tar.TypeReg}},
		{{Name: "up", Typeflag: tar.TypeSymlink, Linkname: "../../../../outside"}, {Name: "up/sentinel", Typeflag: tar.TypeReg}},
		{{Name: "abs", Typeflag: tar.TypeSymlink, Linkname: "/"}, {Name: "abs/tmp/escape", Typeflag: tar.TypeReg}},
		{{Name: "h", Typeflag: tar.TypeLink, Linkname: "../../../../outside/sentinel"}},
		{{Name: "f", Typeflag: tar.TypeReg}, {Name: "h", Typeflag: tar.TypeLink, Linkname: "f"}, {Name: "h", Typeflag: tar.TypeReg}},
		{{Name: "dev/null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}, {Name: "dev/sda", Typeflag: tar.TypeBlock}, {Name: "fifo", Typeflag: tar.TypeFifo}},
		{{Name: "suid", Typeflag: tar.TypeReg, Mode: 0o4755}, {Name: "sgid/", Typeflag: tar.TypeDir, Mode: 0o2775}, {Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777}},
		{{Name: "d/", Typeflag: tar.TypeDir}, {Name: "d/x", Typeflag: tar.TypeReg}, {Name: "d/.wh..wh..opq", Typeflag: tar.TypeReg}, {Name: ".wh.d", Typeflag: tar.TypeReg}},
		{{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "l2"}, {Name: "l2", Typeflag: tar.TypeSymlink, Linkname: "l"}, {Name: "l/x", Typeflag: tar.TypeReg}},
	}
}

// checkOutsideUntouched: base holds only the directories leading to root,
// root's own content, and the untouched sentinel with a single link.
func checkOutsideUntouched(t *testing.T, base, root string) {
	t.Helper()
	allowed := []string{base, filepath.Join(base, "d1"), filepath.Join(base, "d1", "d2"), filepath.Join(base, "d1", "d2", "d3"),
		filepath.Join(base, "outside"), filepath.Join(base, "outside", "sentinel")}
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return filepath.SkipDir
		}
		if !slices.Contains(allowed, p) {
			t.Fatalf("extraction wrote %s outside the root", p)
		}
		return nil
	})
	mustNil(t, err)
	sentinel := filepath.Join(base, "outside", "sentinel")
	if got := readFile(t, sentinel); got != "untouched" {
		t.Fatalf("a file outside the root was changed: %q", got)
	}
	if fi, err := os.Stat(sentinel); err != nil || nlink(fi) != 1 {
		t.Fatalf("a file outside the root was linked into it (%v)", err)
	}
}

// checkNoSpecialFiles: no device, FIFO, socket, setuid or setgid entry
// in the root.
func checkNoSpecialFiles(t *testing.T, root string) {
	t.Helper()
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		m := info.Mode()
		if m&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeNamedPipe|fs.ModeSocket) != 0 || m&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
			t.Fatalf("%s was extracted with mode %v", p, m)
		}
		return nil
	})
}

func bytesBuffer(b []byte) *bytes.Buffer { return bytes.NewBuffer(b) }
