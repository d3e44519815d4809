package oci

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/kilnbuild/kiln/internal/tenantfs"
)

// gzipLevel is fixed: the same tar always compresses to the same bytes
// (with the same Go release).
const gzipLevel = 6

// Reproducible tar rules: entries in lexical walk order, every mtime = the
// epoch, uid/gid 0 without names, modes 0755 for directories and executable
// files and 0644 for others, symlinks kept as links (never followed: dir is
// what a build's steps wrote, and nothing outside it is read).
func tarHeader(tree *tenantfs.Tree, rel string, d fs.DirEntry, epoch time.Time) (*tar.Header, error) {
	info, err := d.Info()
	if err != nil {
		return nil, err
	}
	h := &tar.Header{Name: rel, ModTime: epoch, Mode: 0o644}
	switch mode := info.Mode(); {
	case mode.IsDir():
		h.Typeflag, h.Name, h.Mode = tar.TypeDir, h.Name+"/", 0o755
	case mode.IsRegular():
		h.Typeflag, h.Size = tar.TypeReg, info.Size()
		if mode&0o111 != 0 {
			h.Mode = 0o755
		}
	case mode&fs.ModeSymlink != 0:
		h.Typeflag, h.Mode = tar.TypeSymlink, 0o777
		if h.Linkname, err = tree.Readlink(rel); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%s: unsupported file type %s (only files, directories and symlinks)", rel, mode.Type())
	}
	return h, nil
}

// writeTar writes dir's content (not dir itself) as a reproducible tar.
func writeTar(dir string, epoch time.Time, w io.Writer) error {
	tree, err := tenantfs.Open(dir, "the directory")
	if err != nil {
		return err
	}
	defer tree.Close()
	tw := tar.NewWriter(w)
	err = tree.WalkDir(".", func(rel string, d fs.DirEntry, err error) error {
		if err != nil || rel == "." {
			return err
		}
		h, err := tarHeader(tree, rel, d, epoch)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if h.Typeflag == tar.TypeReg {
			return copyFile(tw, tree, rel, h.Size)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// copyFile writes the file's size bytes as the walk saw it.
func copyFile(w io.Writer, tree *tenantfs.Tree, rel string, size int64) error {
	f, _, err := tree.Open(rel)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.CopyN(w, f, size)
	return err
}

// fileLayer is a gzip-compressed tar layer kept in a temporary file.
type fileLayer struct {
	path           string
	digest, diffID v1.Hash
	size           int64
}

var _ v1.Layer = (*fileLayer)(nil)

// buildLayer tars and compresses dir into a temporary file in tmpDir
// (os.TempDir() when empty). Remove the file with Close.
func buildLayer(dir, tmpDir string, epoch time.Time) (*fileLayer, error) {
	f, err := os.CreateTemp(tmpDir, "kiln-layer-*.tar.gz")
	if err != nil {
		return nil, fmt.Errorf("creating layer file: %w", err)
	}
	l := &fileLayer{path: f.Name()}
	if err := l.fill(f, dir, epoch); err != nil {
		f.Close()
		l.Close()
		return nil, fmt.Errorf("archiving %s: %w", dir, err)
	}
	if err := f.Close(); err != nil {
		l.Close()
		return nil, fmt.Errorf("writing layer file: %w", err)
	}
	return l, nil
}

func (l *fileLayer) fill(f *os.File, dir string, epoch time.Time) error {
	compressed, uncompressed := sha256.New(), sha256.New()
	counter := &countWriter{w: io.MultiWriter(f, compressed)}
	gz, err := gzip.NewWriterLevel(counter, gzipLevel)
	if err != nil {
		return err
	}
	if err := writeTar(dir, epoch.UTC(), io.MultiWriter(gz, uncompressed)); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	l.size, l.digest, l.diffID = counter.n, sha256Hash(compressed), sha256Hash(uncompressed)
	return nil
}

func sha256Hash(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", h.Sum(nil))}
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Close removes the layer's file.
func (l *fileLayer) Close() error { return os.Remove(l.path) }

func (l *fileLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *fileLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *fileLayer) Size() (int64, error)                { return l.size, nil }
func (l *fileLayer) MediaType() (types.MediaType, error) { return types.OCILayer, nil }
func (l *fileLayer) Compressed() (io.ReadCloser, error)  { return os.Open(l.path) }

func (l *fileLayer) Uncompressed() (io.ReadCloser, error) {
	f, err := os.Open(l.path)
	if err != nil {
		return nil, err
	}
	gz, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &readCloser{Reader: gz, close: func() error { gz.Close(); return f.Close() }}, nil
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r *readCloser) Close() error { return r.close() }
