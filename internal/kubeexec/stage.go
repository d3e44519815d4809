package kubeexec

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/kilnbuild/kiln/internal/sandbox"
)

// packMounts writes a tar of every mount's files, mount i under "m<i>/".
// Each source is read through an os.Root: a link a step left in a
// workspace is archived as a link, never followed out of it.
func packMounts(w io.Writer, mounts []sandbox.Mount) error {
	tw := tar.NewWriter(w)
	for i, m := range mounts {
		if err := packDir(tw, m.Source, fmt.Sprintf("m%d", i)); err != nil {
			return fmt.Errorf("packing %s: %w", m.Target, err)
		}
	}
	return tw.Close()
}

func packDir(tw *tar.Writer, dir, prefix string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	return fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := root.Lstat(p)
		if err != nil {
			return err
		}
		return packEntry(tw, root, p, path.Join(prefix, p), info)
	})
}

func packEntry(tw *tar.Writer, root *os.Root, p, name string, info fs.FileInfo) error {
	link := ""
	if info.Mode()&fs.ModeSymlink != 0 {
		var err error
		if link, err = root.Readlink(p); err != nil {
			return err
		}
	}
	if !info.Mode().IsRegular() && !info.IsDir() && link == "" {
		return nil // sockets, FIFOs, devices: not files a step hands on
	}
	hdr, err := tar.FileInfoHeader(info, link)
	if err != nil {
		return err
	}
	hdr.Name, hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = name, stepUID, stepUID, "", ""
	if info.IsDir() {
		hdr.Name += "/"
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return nil
	}
	f, err := root.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.CopyN(tw, f, info.Size())
	return err
}

// unpackMounts replaces each writable mount's files with those of the tar
// the Pod sent back (mount i under "m<i>/"). The archive comes from the
// steps, so it is untrusted: entries are written through an os.Root of
// the mount (no path, link or hard link leads out of it), only
// directories, regular files and symbolic links are made, modes lose
// setuid/setgid/sticky, and at most limit bytes are accepted.
func unpackMounts(r io.Reader, mounts []sandbox.Mount, limit int64) error {
	roots := map[string]*os.Root{}
	defer func() {
		for _, root := range roots {
			root.Close()
		}
	}()
	for i, m := range mounts {
		if !m.Writable {
			continue
		}
		if err := clearDir(m.Source); err != nil {
			return err
		}
		root, err := os.OpenRoot(m.Source)
		if err != nil {
			return err
		}
		roots[fmt.Sprintf("m%d", i)] = root
	}
	return unpack(tar.NewReader(&capped{r: r, n: limit}), roots)
}

func unpack(tr *tar.Reader, roots map[string]*os.Root) error {
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the pod's files: %w", err)
		}
		top, rel, _ := strings.Cut(strings.TrimPrefix(path.Clean(hdr.Name), "./"), "/")
		root, ok := roots[top]
		if !ok {
			return fmt.Errorf("the pod sent %q, outside the task's writable mounts", hdr.Name)
		}
		if rel == "" {
			continue
		}
		if !fs.ValidPath(rel) {
			return fmt.Errorf("the pod sent an invalid path %q", hdr.Name)
		}
		if err := unpackEntry(tr, root, rel, hdr); err != nil {
			return fmt.Errorf("unpacking %s: %w", hdr.Name, err)
		}
	}
}

func unpackEntry(tr *tar.Reader, root *os.Root, rel string, hdr *tar.Header) error {
	mode := fs.FileMode(hdr.Mode) & fs.ModePerm
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := root.MkdirAll(rel, 0o755); err != nil {
			return err
		}
		return root.Chmod(rel, mode|0o700)
	case tar.TypeReg:
		if err := root.MkdirAll(path.Dir(rel), 0o755); err != nil {
			return err
		}
		f, err := root.OpenFile(rel, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, tr)
		return errors.Join(err, f.Close())
	case tar.TypeSymlink:
		if err := root.MkdirAll(path.Dir(rel), 0o755); err != nil {
			return err
		}
		return root.Symlink(hdr.Linkname, rel)
	}
	return nil // hard links, devices, FIFOs: not kept
}

// clearDir empties a directory (the mount's old content is replaced).
func clearDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	for _, e := range ents {
		if err := root.RemoveAll(e.Name()); err != nil {
			return err
		}
	}
	return nil
}

// capped reads at most n bytes, then fails.
type capped struct {
	r io.Reader
	n int64
}

func (c *capped) Read(b []byte) (int, error) {
	if c.n <= 0 {
		return 0, errors.New("the pod sent more than the transfer limit")
	}
	if int64(len(b)) > c.n {
		b = b[:c.n]
	}
	n, err := c.r.Read(b)
	c.n -= int64(n)
	return n, err
}
