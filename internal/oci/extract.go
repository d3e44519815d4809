package oci

import (
	"archive/tar"
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"slices"
	"strings"
)

// Whiteout markers of the OCI layer format.
const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// Bounds of one image's extraction: a layer of a few megabytes may expand
// (gzip, sparse files, millions of empty entries) into enough to fill the
// server's disk or inodes.
const (
	MaxUnpackBytes   = 32 << 30 // bytes of file content, all layers together
	MaxUnpackEntries = 2 << 20  // tar entries, all layers together
)

// extractor applies layer tars onto a directory through an os.Root, so no
// entry (nor a symlink planted by an earlier entry) can write outside it.
type extractor struct {
	root     *os.Root
	asRoot   bool
	dirModes map[string]fs.FileMode // applied at the end: a read-only
	// directory must stay writable while its layers are extracted
	created map[string]bool // entries of the layer being applied
	// bytes and entries left (MaxUnpackBytes, MaxUnpackEntries)
	bytesLeft   int64
	entriesLeft int
}

func newExtractor(root *os.Root) *extractor {
	return &extractor{root: root, asRoot: os.Geteuid() == 0, dirModes: map[string]fs.FileMode{},
		bytesLeft: MaxUnpackBytes, entriesLeft: MaxUnpackEntries}
}

// apply extracts one uncompressed layer tar.
func (x *extractor) apply(r io.Reader) error {
	x.created = map[string]bool{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading tar: %w", err)
		}
		if x.entriesLeft--; x.entriesLeft < 0 {
			return fmt.Errorf("the image has more than %d entries", MaxUnpackEntries)
		}
		if err := x.entry(h, tr); err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
	}
}

// cleanName makes a tar entry name relative to the root ("" for the root
// itself); ok is false for names that climb out of it.
func cleanName(n string) (string, bool) {
	n = path.Clean(strings.TrimLeft(n, "/"))
	switch {
	case n == ".":
		return "", true
	case n == ".." || strings.HasPrefix(n, "../"):
		return "", false
	}
	return n, true
}

func (x *extractor) entry(h *tar.Header, r io.Reader) error {
	name, ok := cleanName(h.Name)
	if !ok {
		return errors.New("path escapes the root")
	}
	if name == "" {
		return nil
	}
	dir, base := path.Split(name)
	switch {
	case base == whiteoutOpaque:
		return x.opaque(strings.TrimSuffix(dir, "/"))
	case strings.HasPrefix(base, whiteoutPrefix):
		return removeIfExists(x.root, dir+strings.TrimPrefix(base, whiteoutPrefix))
	}
	if dir != "" {
		if err := x.root.MkdirAll(strings.TrimSuffix(dir, "/"), 0o755); err != nil {
			return err
		}
	}
	x.created[name] = true
	return x.write(name, h, r)
}

// opaque empties dir of everything earlier layers put there.
func (x *extractor) opaque(dir string) error {
	d := cmpOr(dir, ".")
	f, err := x.root.Open(d)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return err
	}
	for _, n := range names {
		p := path.Join(dir, n)
		if !x.created[p] {
			if err := removeIfExists(x.root, p); err != nil {
				return err
			}
		}
	}
	return nil
}

func (x *extractor) write(name string, h *tar.Header, r io.Reader) error {
	mode := h.FileInfo().Mode()
	switch h.Typeflag {
	case tar.TypeDir:
		if err := x.dir(name, mode); err != nil {
			return err
		}
		return x.chown(name, h)
	case tar.TypeReg, tar.TypeRegA:
		return x.file(name, h, r, mode)
	case tar.TypeSymlink:
		if err := x.replace(name); err != nil {
			return err
		}
		if err := x.root.Symlink(h.Linkname, name); err != nil {
			return err
		}
		return x.chown(name, h)
	case tar.TypeLink:
		target, ok := cleanName(h.Linkname)
		if !ok || target == "" {
			return fmt.Errorf("hard link to %q escapes the root", h.Linkname)
		}
		if err := x.replace(name); err != nil {
			return err
		}
		return x.root.Link(target, name)
	}
	// Devices, FIFOs and the like: sandboxes supply their own /dev.
	return nil
}

// replace removes whatever name is, unless it is a directory a directory
// entry would merge into.
func (x *extractor) replace(name string) error {
	return removeIfExists(x.root, name)
}

func (x *extractor) dir(name string, mode fs.FileMode) error {
	if fi, err := x.root.Lstat(name); err == nil && !fi.IsDir() {
		if err := x.replace(name); err != nil {
			return err
		}
	}
	if err := x.root.Mkdir(name, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	x.dirModes[name] = mode
	return x.root.Chmod(name, mode.Perm()|0o700)
}

func (x *extractor) file(name string, h *tar.Header, r io.Reader, mode fs.FileMode) error {
	if err := x.replace(name); err != nil {
		return err
	}
	if h.Size > x.bytesLeft {
		return fmt.Errorf("the image expands beyond %d bytes", int64(MaxUnpackBytes))
	}
	f, err := x.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, io.LimitReader(r, x.bytesLeft))
	x.bytesLeft -= n
	if err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := x.chown(name, h); err != nil {
		return err
	}
	if err := x.root.Chmod(name, fileMode(mode)); err != nil {
		return err
	}
	return x.root.Chtimes(name, h.ModTime, h.ModTime)
}

// fileMode keeps permission bits and the sticky bit (/tmp-like
// directories). Setuid and setgid bits are dropped: unpacked files belong
// to the image's uids (root, mostly) on the host, where a setuid-root file
// of a tenant's image would be a way to root for anyone who reaches it,
// and sandboxed steps run with no_new_privs, which ignores them anyway.
func fileMode(m fs.FileMode) fs.FileMode {
	return m & (fs.ModePerm | fs.ModeSticky)
}

// chown keeps the layer's ownership when Kiln runs as root.
func (x *extractor) chown(name string, h *tar.Header) error {
	if !x.asRoot {
		return nil
	}
	return x.root.Lchown(name, h.Uid, h.Gid)
}

// finish gives directories their recorded modes, deepest first so that a
// parent losing its search bit cannot hide a child.
func (x *extractor) finish() error {
	names := slices.Collect(maps.Keys(x.dirModes))
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Compare(strings.Count(b, "/"), strings.Count(a, "/"))
	})
	for _, name := range names {
		fi, err := x.root.Lstat(name)
		if errors.Is(err, fs.ErrNotExist) || (err == nil && !fi.IsDir()) {
			continue // removed or replaced by a later layer
		}
		if err == nil {
			err = x.root.Chmod(name, fileMode(x.dirModes[name]))
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}
