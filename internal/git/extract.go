package git

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// extractor writes a `git archive` tar stream under dest. It refuses
// entries that would land outside dest or below a symbolic link it wrote.
type extractor struct {
	dest  string
	mtime time.Time
	links map[string]bool // relative paths of symbolic links written
	dirs  []string
}

func extractTar(r io.Reader, dest string, mtime time.Time) error {
	x := &extractor{dest: dest, mtime: mtime, links: map[string]bool{}}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return x.finish()
		}
		if err != nil {
			return fmt.Errorf("reading git archive: %w", err)
		}
		if err := x.entry(h, tr); err != nil {
			return err
		}
	}
}

func (x *extractor) entry(h *tar.Header, r io.Reader) error {
	if h.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	rel, err := x.safePath(h.Name)
	if err != nil || rel == "" {
		return err
	}
	target := filepath.Join(x.dest, filepath.FromSlash(rel))
	switch h.Typeflag {
	case tar.TypeDir:
		x.dirs = append(x.dirs, target)
		return mkdir(target)
	case tar.TypeReg:
		return x.file(target, h.Mode, r)
	case tar.TypeSymlink:
		x.links[rel] = true
		if err := os.Symlink(h.Linkname, target); err != nil {
			return fmt.Errorf("writing %s: %w", rel, err)
		}
		return nil
	}
	return fmt.Errorf("unexpected archive entry %q of type %q", h.Name, h.Typeflag)
}

// safePath cleans an entry name and checks it stays inside dest.
func (x *extractor) safePath(name string) (string, error) {
	rel := path.Clean(strings.TrimSuffix(name, "/"))
	if rel == "." {
		return "", nil
	}
	if path.IsAbs(rel) || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("archive entry %q escapes the destination", name)
	}
	for p := path.Dir(rel); p != "."; p = path.Dir(p) {
		if x.links[p] {
			return "", fmt.Errorf("archive entry %q lies below symbolic link %q", name, p)
		}
	}
	return rel, nil
}

func mkdir(p string) error {
	if err := os.MkdirAll(p, 0o755); err != nil {
		return fmt.Errorf("creating directory: %w", err)
	}
	return nil
}

func (x *extractor) file(target string, mode int64, r io.Reader) error {
	if err := mkdir(filepath.Dir(target)); err != nil {
		return err
	}
	perm := os.FileMode(0o644)
	if mode&0o111 != 0 {
		perm = 0o755
	}
	// O_EXCL: never write through something already there.
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("writing file: %w", err)
	}
	_, err = io.Copy(f, r)
	err = errors.Join(err, f.Close())
	if err != nil {
		return fmt.Errorf("writing %s: %w", target, err)
	}
	return x.touch(target)
}

func (x *extractor) touch(p string) error {
	if err := os.Chtimes(p, x.mtime, x.mtime); err != nil {
		return fmt.Errorf("setting modification time: %w", err)
	}
	return nil
}

// finish dates directories last, deepest first, since writing into a
// directory changes its modification time.
func (x *extractor) finish() error {
	for i := len(x.dirs) - 1; i >= 0; i-- {
		if err := x.touch(x.dirs[i]); err != nil {
			return err
		}
	}
	return x.touch(x.dest)
}
