// Package tenantfs reads file trees whose content a tenant controls — a git
// checkout, a pipeline workspace, a task's results directory, a build's
// outputs, a pulled artifact — without ever leaving them. The server runs
// as root beside its data directory (database, Secret key, signing key, TLS
// material); a symbolic link in such a tree must never make it read one of
// those files and echo it into a log, a status or an artifact.
//
// A Tree is an os.Root: every name is resolved inside the tree, symbolic
// links that stay inside are followed, links that leave it (absolute
// targets, too many "..", /proc/self/... magic) are errors, as are names
// with a leading "/" or ".." that climbs out. Only regular files are
// opened for reading (a FIFO, device or socket is refused without being
// opened in a way that blocks), and reads are bounded. Errors name the
// path and the problem, never the content of anything. See README.md.
package tenantfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// Problems a Tree reports; test them with errors.Is.
var (
	// ErrEscapes: the name, or a symbolic link on its way, leads outside
	// the tree.
	ErrEscapes = errors.New("leads outside the tree")
	// ErrNotRegular: a file was expected but the name is a directory,
	// FIFO, device or socket.
	ErrNotRegular = errors.New("not a regular file")
	// ErrTooLarge: the file is larger than the limit of the read.
	ErrTooLarge = errors.New("larger than the limit")
)

// Error is a problem with one name of a Tree: "<path> <problem>", e.g.
// ".kiln/pipeline.yaml is a symbolic link leaving the repository".
type Error struct {
	Path    string // slash-separated, relative to the tree
	Problem string
	Err     error // ErrEscapes, ErrNotRegular, ErrTooLarge or a system error
}

func (e *Error) Error() string { return e.Path + " " + e.Problem }

func (e *Error) Unwrap() error { return e.Err }

// Tree is a directory whose content a tenant controls. Its methods are
// safe for concurrent use.
type Tree struct {
	root *os.Root
	what string
}

// Open opens dir, a directory the server chose (its own path may hold
// symbolic links; names below it may not leave it). what names the tree
// in errors: "the repository", "the outputs".
func Open(dir, what string) (*Tree, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", what, err)
	}
	return &Tree{root: r, what: what}, nil
}

// Close releases the tree's directory.
func (t *Tree) Close() error { return t.root.Close() }

// Dir is the directory the tree was opened at.
func (t *Tree) Dir() string { return t.root.Name() }

// What is how errors name the tree.
func (t *Tree) What() string { return t.what }

// Sub opens the directory name of t as a tree of its own, named what.
func (t *Tree) Sub(name, what string) (*Tree, error) {
	name, err := t.clean(name)
	if err != nil {
		return nil, err
	}
	r, err := t.root.OpenRoot(name)
	if err != nil {
		return nil, t.explain(name, err)
	}
	return &Tree{root: r, what: what}, nil
}

// clean turns a slash-separated name into one os.Root accepts, refusing
// names that are absolute or climb out of the tree by themselves.
func (t *Tree) clean(name string) (string, error) {
	c := path.Clean(name)
	if path.IsAbs(name) || !fs.ValidPath(c) || strings.ContainsRune(name, 0) {
		return "", &Error{Path: name, Problem: "is not a relative path inside " + t.what, Err: ErrEscapes}
	}
	return c, nil
}

// Stat describes name, following symbolic links that stay in the tree.
func (t *Tree) Stat(name string) (fs.FileInfo, error) {
	name, err := t.clean(name)
	if err != nil {
		return nil, err
	}
	fi, err := t.root.Stat(name)
	return fi, t.explain(name, err)
}

// Lstat describes name itself (a link is not followed; the directories on
// its way must stay in the tree).
func (t *Tree) Lstat(name string) (fs.FileInfo, error) {
	name, err := t.clean(name)
	if err != nil {
		return nil, err
	}
	fi, err := t.root.Lstat(name)
	return fi, t.explain(name, err)
}

// Readlink returns the target of the symbolic link name, as written.
func (t *Tree) Readlink(name string) (string, error) {
	name, err := t.clean(name)
	if err != nil {
		return "", err
	}
	target, err := t.root.Readlink(name)
	return target, t.explain(name, err)
}

// Open opens the regular file name for reading. Anything else (a
// directory, FIFO, device, socket) is ErrNotRegular, and is never opened
// in a way that could block or have side effects.
func (t *Tree) Open(name string) (*os.File, fs.FileInfo, error) {
	name, err := t.clean(name)
	if err != nil {
		return nil, nil, err
	}
	fi, err := t.root.Stat(name)
	if err != nil {
		return nil, nil, t.explain(name, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, notRegular(name, fi.Mode())
	}
	f, err := t.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, t.explain(name, err)
	}
	if fi, err = f.Stat(); err != nil || !fi.Mode().IsRegular() { // replaced since the Stat
		f.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("reading %s: %w", name, err)
		}
		return nil, nil, notRegular(name, fi.Mode())
	}
	return f, fi, nil
}

// ReadFile reads the regular file name, at most limit bytes.
func (t *Tree) ReadFile(name string, limit int64) ([]byte, error) {
	f, fi, err := t.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	name = path.Clean(name)
	if fi.Size() > limit {
		return nil, tooLarge(name, limit)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if int64(len(data)) > limit { // it grew
		return nil, tooLarge(name, limit)
	}
	return data, nil
}

func tooLarge(name string, limit int64) error {
	return &Error{Path: name, Problem: fmt.Sprintf("is larger than the limit of %d bytes", limit), Err: ErrTooLarge}
}

// ReadDir lists the directory name, sorted by name. Entries are not
// followed: a symbolic link is listed as one.
func (t *Tree) ReadDir(name string) ([]fs.DirEntry, error) {
	name, err := t.clean(name)
	if err != nil {
		return nil, err
	}
	f, err := t.root.OpenFile(name, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, t.explain(name, err)
	}
	defer f.Close()
	entries, err := f.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", name, err)
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, nil
}

// WalkDir walks the tree from name in lexical order, as fs.WalkDir does:
// paths are slash-separated and relative to the tree, entries are not
// followed (a symbolic link to a directory is reported as a link and not
// entered), and d.Info() describes the entry itself.
func (t *Tree) WalkDir(name string, fn fs.WalkDirFunc) error {
	name, err := t.clean(name)
	if err != nil {
		return err
	}
	return fs.WalkDir(t.FS(-1), name, fn)
}

func notRegular(name string, mode fs.FileMode) error {
	kind := "a " + fileKind(mode)
	return &Error{Path: name, Problem: "is " + kind + ", not a regular file", Err: ErrNotRegular}
}

// fileKind names a file type in words.
func fileKind(mode fs.FileMode) string {
	switch t := mode.Type(); {
	case mode.IsRegular():
		return "regular file"
	case t&fs.ModeDir != 0:
		return "directory"
	case t&fs.ModeSymlink != 0:
		return "symbolic link"
	case t&fs.ModeNamedPipe != 0:
		return "FIFO"
	case t&fs.ModeSocket != 0:
		return "socket"
	case t&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// ReadFile reads the regular file name of the tree at dir, at most limit
// bytes; what names the tree in errors.
func ReadFile(dir, name, what string, limit int64) ([]byte, error) {
	t, err := Open(dir, what)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	return t.ReadFile(name, limit)
}

// DirPath returns the host path of the directory name, after checking
// that every component of it is a real directory: a symbolic link on the
// way is refused even when it stays inside the tree, so that the path can
// be handed to code that resolves it on the host (a bind mount, a walk)
// while no tenant process runs. With create, missing directories are made.
func (t *Tree) DirPath(name string, create bool) (string, error) {
	var mk *maker
	if create {
		mk = &maker{uid: -1, gid: -1}
	}
	return t.dirPath(name, mk)
}

// DirPathFor is DirPath with create, the directories it makes given to
// uid:gid (the user the tree's processes run as), through the tree's
// root: a link swapped in meanwhile is never followed.
func (t *Tree) DirPathFor(name string, uid, gid int) (string, error) {
	return t.dirPath(name, &maker{uid: uid, gid: gid})
}

// maker makes missing directories, owned by uid:gid (-1: the server).
type maker struct{ uid, gid int }

func (t *Tree) dirPath(name string, mk *maker) (string, error) {
	name, err := t.clean(name)
	if err != nil || name == "." {
		return t.Dir(), err
	}
	p := ""
	for _, part := range strings.Split(name, "/") {
		p = path.Join(p, part)
		if err := t.realDir(p, mk); err != nil {
			return "", err
		}
	}
	return filepath.Join(t.Dir(), filepath.FromSlash(name)), nil
}

// mkdir makes the directory p and gives it to mk's user.
func (t *Tree) mkdir(p string, mk *maker) error {
	err := t.root.Mkdir(p, 0o755)
	if err == nil && (mk.uid >= 0 || mk.gid >= 0) {
		err = t.root.Lchown(p, mk.uid, mk.gid)
	}
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("creating %s in %s: %w", p, t.what, err)
	}
	return nil
}

func (t *Tree) realDir(p string, mk *maker) error {
	fi, err := t.root.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) && mk != nil {
		if err := t.mkdir(p, mk); err != nil {
			return err
		}
		fi, err = t.root.Lstat(p)
	}
	switch {
	case err != nil:
		return t.explain(p, err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return &Error{Path: p, Problem: "is a symbolic link: Kiln does not follow links to reach directories of " + t.what, Err: ErrEscapes}
	case !fi.IsDir():
		return &Error{Path: p, Problem: "is a " + fileKind(fi.Mode()) + ", not a directory", Err: syscall.ENOTDIR}
	}
	return nil
}
