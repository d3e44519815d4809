package oci

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Platform selected from multi-platform images.
var defaultPlatform = v1.Platform{OS: "linux", Architecture: "amd64"}

// Pull fetches an image or artifact (linux/amd64 from an index) and applies
// its tar layers in order onto destDir, honouring whiteouts. A non-tar
// layer titled by org.opencontainers.image.title becomes that file. Layers
// that are the empty blob are skipped; other non-tar layers are an error.
func Pull(ctx context.Context, ref, destDir string, rem Remote) (Descriptor, error) {
	img, err := fetchImage(ctx, ref, rem)
	if err != nil {
		return Descriptor{}, fmt.Errorf("pulling %s: %w", ref, err)
	}
	if err := os.MkdirAll(destDir, 0o755); err != nil {
		return Descriptor{}, fmt.Errorf("pulling %s: %w", ref, err)
	}
	if err := extractImage(img, destDir); err != nil {
		return Descriptor{}, fmt.Errorf("pulling %s into %s: %w", ref, destDir, err)
	}
	d, err := pulledDescriptor(img)
	if err != nil {
		return Descriptor{}, fmt.Errorf("pulling %s: %w", ref, err)
	}
	return d, nil
}

// Unpack makes the root filesystem of ref available under cacheDir, in a
// directory named after the image manifest's digest, and returns its path
// and that digest. An existing directory is reused as is: treat it as read
// only. Every call resolves the manifest through the registry with rem,
// even when the digest is already unpacked: a cache entry proves that some
// caller could pull the image once, not that this one may (it fails as the
// registry refuses, e.g. 401, 403, or 404 for a digest that is not in the
// repository). Layers are verified against their digests before an entry
// is kept, so a registry serving other bytes cannot fill the cache.
func Unpack(ctx context.Context, ref, cacheDir string, rem Remote) (rootfs, digest string, err error) {
	img, err := fetchImage(ctx, ref, rem)
	if err != nil {
		return "", "", fmt.Errorf("unpacking %s: %w", ref, err)
	}
	rootfs, digest, err = unpackImage(img, cacheDir)
	if err != nil {
		return "", "", fmt.Errorf("unpacking %s: %w", ref, err)
	}
	return rootfs, digest, nil
}

// unpackImage unpacks img into cacheDir/<manifest digest> unless it is
// there already.
func unpackImage(img v1.Image, cacheDir string) (rootfs, digest string, err error) {
	h, err := img.Digest()
	if err != nil {
		return "", "", err
	}
	final := cachePath(cacheDir, h.String())
	if _, err := os.Stat(final); err == nil {
		return final, h.String(), nil
	}
	if err := unpackInto(img, cacheDir, final); err != nil {
		return "", "", err
	}
	return final, h.String(), nil
}

// unpackInto extracts img beside final and renames it into place, so a
// cache directory is either complete or absent. A concurrent unpacker that
// finishes first wins.
func unpackInto(img v1.Image, cacheDir, final string) error {
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(cacheDir, ".unpack-")
	if err != nil {
		return err
	}
	if err := extractImage(img, tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		os.RemoveAll(tmp)
		if _, statErr := os.Stat(final); statErr == nil {
			return nil
		}
		return err
	}
	return nil
}

func cachePath(cacheDir, digest string) string {
	return filepath.Join(cacheDir, strings.Replace(digest, ":", "-", 1))
}

func fetchImage(ctx context.Context, ref string, rem Remote) (v1.Image, error) {
	parsed, err := rem.parse(ref)
	if err != nil {
		return nil, err
	}
	return remote.Image(parsed, rem.options(ctx, remote.WithPlatform(defaultPlatform))...)
}

func pulledDescriptor(img v1.Image) (Descriptor, error) {
	m, err := img.Manifest()
	if err != nil {
		return Descriptor{}, err
	}
	d, err := img.Digest()
	if err != nil {
		return Descriptor{}, err
	}
	size, err := img.Size()
	if err != nil {
		return Descriptor{}, err
	}
	return Descriptor{MediaType: string(m.MediaType), ArtifactType: m.ArtifactType, Digest: d.String(),
		Size: size, Annotations: m.Annotations}, nil
}

// extractImage applies every layer of img onto dir. A layer that is not a
// tar archive but carries a title (org.opencontainers.image.title, as
// ORAS and Debian builds push files) becomes the file of that name.
func extractImage(img v1.Image, dir string) error {
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	x := newExtractor(root)
	for i, l := range layers {
		var title string
		if i < len(m.Layers) && !strings.Contains(string(m.Layers[i].MediaType), "tar") {
			title = m.Layers[i].Annotations[AnnotationTitle]
		}
		if title != "" {
			err = applyFile(x, l, title)
		} else {
			err = applyLayer(x, l)
		}
		if err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
	}
	return x.finish()
}

// AnnotationTitle names the file a layer holds.
const AnnotationTitle = "org.opencontainers.image.title"

// applyFile writes a titled layer's blob as the file title (mode 0644),
// through the same checks as a tar entry.
func applyFile(x *extractor, l v1.Layer, title string) error {
	if strings.HasPrefix(path.Base(title), whiteoutPrefix) {
		return fmt.Errorf("title %q is a whiteout name", title)
	}
	size, err := l.Size()
	if err != nil {
		return err
	}
	rc, err := l.Compressed() // the blob as stored: the file itself
	if err != nil {
		return err
	}
	defer rc.Close()
	if x.entriesLeft--; x.entriesLeft < 0 {
		return fmt.Errorf("the image has more than %d entries", MaxUnpackEntries)
	}
	x.created = map[string]bool{}
	h := &tar.Header{Name: title, Typeflag: tar.TypeReg, Mode: 0o644, Size: size, ModTime: time.Unix(0, 0)}
	if err := x.entry(h, rc); err != nil {
		return fmt.Errorf("%s: %w", title, err)
	}
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return fmt.Errorf("verifying the layer: %w", err)
	}
	return nil
}

func applyLayer(x *extractor, l v1.Layer) error {
	mt, err := l.MediaType()
	if err != nil {
		return err
	}
	if string(mt) == MediaTypeEmpty {
		return nil
	}
	if !strings.Contains(string(mt), "tar") {
		return fmt.Errorf("media type %s is not a tar archive", mt)
	}
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := x.apply(rc); err != nil {
		return err
	}
	// The tar reader stops at the end-of-archive marker; the blob's digest
	// is checked only once the whole stream is read.
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return fmt.Errorf("verifying the layer: %w", err)
	}
	return nil
}

// removeIfExists removes name (and its content) unless it is absent.
func removeIfExists(root *os.Root, name string) error {
	err := root.RemoveAll(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
