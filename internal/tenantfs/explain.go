package tenantfs

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"strings"
	"syscall"
)

// explain turns an error of the root about name into one that says what
// is wrong, naming the symbolic link that leaves the tree when there is
// one. It never reads the content of anything.
func (t *Tree) explain(name string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return &Error{Path: name, Problem: "does not exist in " + t.what, Err: err}
	}
	if link, loop := t.leavingLink(name); link != "" {
		if loop {
			return &Error{Path: link, Problem: "is a symbolic link that loops or chains more than 8 links in " + t.what, Err: ErrEscapes}
		}
		return &Error{Path: link, Problem: "is a symbolic link leaving " + t.what + ": Kiln does not follow it", Err: ErrEscapes}
	}
	return fmt.Errorf("reading %s in %s: %w", name, t.what, err)
}

// leavingLink finds the first component of name that is a symbolic link
// which cannot be resolved inside the tree.
func (t *Tree) leavingLink(name string) (link string, loop bool) {
	parts := strings.Split(name, "/")
	for i := range parts {
		p := strings.Join(parts[:i+1], "/")
		fi, err := t.root.Lstat(p)
		if err != nil {
			return "", false
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			continue
		}
		if _, err := t.root.Stat(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return p, errors.Is(err, syscall.ELOOP)
		}
	}
	return "", false
}

// FS returns the tree as an fs.FS (also fs.StatFS, fs.ReadFileFS,
// fs.ReadDirFS and fs.ReadLinkFS) for code written against io/fs. Open
// opens only regular files and directories; ReadFile reads at most limit
// bytes (a negative limit: no limit).
func (t *Tree) FS(limit int64) fs.FS { return treeFS{t: t, limit: limit} }

type treeFS struct {
	t     *Tree
	limit int64
}

var (
	_ fs.ReadFileFS = treeFS{}
	_ fs.ReadDirFS  = treeFS{}
	_ fs.StatFS     = treeFS{}
	_ fs.ReadLinkFS = treeFS{}
)

func (f treeFS) Open(name string) (fs.File, error) {
	fi, err := f.t.Stat(name)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		file, _, err := f.t.Open(name)
		if err != nil {
			return nil, err
		}
		return file, nil
	}
	file, err := f.t.root.OpenFile(name, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, f.t.explain(name, err)
	}
	return file, nil
}

func (f treeFS) ReadFile(name string) ([]byte, error) {
	limit := f.limit
	if limit < 0 {
		limit = math.MaxInt64 - 1
	}
	return f.t.ReadFile(name, limit)
}

func (f treeFS) ReadDir(name string) ([]fs.DirEntry, error) { return f.t.ReadDir(name) }
func (f treeFS) Stat(name string) (fs.FileInfo, error)      { return f.t.Stat(name) }
func (f treeFS) Lstat(name string) (fs.FileInfo, error)     { return f.t.Lstat(name) }
func (f treeFS) ReadLink(name string) (string, error)       { return f.t.Readlink(name) }
