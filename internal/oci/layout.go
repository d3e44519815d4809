package oci

import (
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// maxIndexDepth bounds nested indexes in a layout.
const maxIndexDepth = 8

// UnpackLayout is Unpack for an image in the OCI image layout directory
// dir (index.json, blobs/): the manifest or index with digest want (an
// index resolves to its linux/amd64 image), or, when want is empty, the
// layout's only manifest. It unpacks into the same cache as Unpack, named
// after the image manifest's digest, with the same extraction. Unlike a
// registry client, go-containerregistry trusts a layout's files, so every
// manifest, index and layer read is checked here against its digest: a
// layout whose files were changed leaves nothing in the cache.
func UnpackLayout(dir, want, cacheDir string) (rootfs, digest string, err error) {
	img, err := layoutImage(dir, want)
	if err != nil {
		return "", "", fmt.Errorf("unpacking OCI layout %s: %w", dir, err)
	}
	rootfs, digest, err = unpackImage(verifiedImage{img}, cacheDir)
	if err != nil {
		return "", "", fmt.Errorf("unpacking OCI layout %s: %w", dir, err)
	}
	return rootfs, digest, nil
}

// layoutImage finds the image to unpack in the layout at dir.
func layoutImage(dir, want string) (v1.Image, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("not an OCI image layout (no index.json): %w", err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, err
	}
	if want == "" {
		return onlyManifest(idx)
	}
	h, err := v1.NewHash(want)
	if err != nil {
		return nil, fmt.Errorf("digest %q: %w", want, err)
	}
	parent, desc, err := findManifest(idx, h, 0)
	if err != nil {
		return nil, err
	}
	return imageOf(parent, desc, 0)
}

// onlyManifest returns the image of a layout listing exactly one manifest.
func onlyManifest(idx v1.ImageIndex) (v1.Image, error) {
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading index.json: %w", err)
	}
	if len(m.Manifests) != 1 {
		return nil, fmt.Errorf("it lists %d manifests (%s): name one as oci-layout:PATH@DIGEST", len(m.Manifests), describeManifests(m.Manifests))
	}
	return imageOf(idx, m.Manifests[0], 0)
}

func describeManifests(ds []v1.Descriptor) string {
	names := make([]string, 0, len(ds))
	for _, d := range ds {
		s := d.Digest.String()
		if ref := d.Annotations["org.opencontainers.image.ref.name"]; ref != "" {
			s += " (" + ref + ")"
		}
		names = append(names, s)
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// findManifest finds the descriptor with digest h in idx or the indexes it
// lists, and the index that lists it.
func findManifest(idx v1.ImageIndex, h v1.Hash, depth int) (v1.ImageIndex, v1.Descriptor, error) {
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, v1.Descriptor{}, fmt.Errorf("reading an index: %w", err)
	}
	for _, d := range m.Manifests {
		if d.Digest == h {
			return idx, d, nil
		}
	}
	for _, d := range m.Manifests {
		if !d.MediaType.IsIndex() || depth >= maxIndexDepth {
			continue
		}
		child, err := childIndex(idx, d)
		if err != nil {
			return nil, v1.Descriptor{}, err
		}
		if parent, found, err := findManifest(child, h, depth+1); err == nil {
			return parent, found, nil
		}
	}
	return nil, v1.Descriptor{}, fmt.Errorf("no manifest %s in the layout", h)
}

// imageOf returns the image d (listed in idx) names: the image itself, or
// an index's linux/amd64 image.
func imageOf(idx v1.ImageIndex, d v1.Descriptor, depth int) (v1.Image, error) {
	switch {
	case d.MediaType.IsImage():
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, err
		}
		return img, checkDigest(img, d.Digest)
	case d.MediaType.IsIndex() && depth < maxIndexDepth:
		child, err := childIndex(idx, d)
		if err != nil {
			return nil, err
		}
		return platformImage(child, d.Digest, depth)
	}
	return nil, fmt.Errorf("manifest %s has media type %q, not an image or an index (or indexes nest deeper than %d)", d.Digest, d.MediaType, maxIndexDepth)
}

// platformImage picks the linux/amd64 image of an index, as a registry
// pull does.
func platformImage(idx v1.ImageIndex, h v1.Hash, depth int) (v1.Image, error) {
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading index %s: %w", h, err)
	}
	for _, d := range m.Manifests {
		if d.Platform != nil && d.Platform.OS == defaultPlatform.OS && d.Platform.Architecture == defaultPlatform.Architecture {
			return imageOf(idx, d, depth+1)
		}
	}
	return nil, fmt.Errorf("index %s has no %s/%s image", h, defaultPlatform.OS, defaultPlatform.Architecture)
}

func childIndex(idx v1.ImageIndex, d v1.Descriptor) (v1.ImageIndex, error) {
	child, err := idx.ImageIndex(d.Digest)
	if err != nil {
		return nil, err
	}
	return child, checkDigest(child, d.Digest)
}

// checkDigest checks that the manifest read has the digest it was read by.
func checkDigest(m interface{ Digest() (v1.Hash, error) }, want v1.Hash) error {
	got, err := m.Digest()
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("manifest %s: its file's content has digest %s", want, got)
	}
	return nil
}

// verifiedImage is an image whose layers check their bytes against their
// digests and sizes as they are read.
type verifiedImage struct{ v1.Image }

func (v verifiedImage) Layers() ([]v1.Layer, error) {
	layers, err := v.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(layers))
	for i, l := range layers {
		if out[i], err = partial.CompressedToLayer(verifiedBlob{l}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// verifiedBlob is a layer as stored; Compressed checks what it reads.
type verifiedBlob struct{ l v1.Layer }

func (b verifiedBlob) Digest() (v1.Hash, error) { return b.l.Digest() }
func (b verifiedBlob) Size() (int64, error)     { return b.l.Size() }
func (b verifiedBlob) MediaType() (types.MediaType, error) {
	return b.l.MediaType()
}

func (b verifiedBlob) Compressed() (io.ReadCloser, error) {
	want, err := b.l.Digest()
	if err != nil {
		return nil, err
	}
	size, err := b.l.Size()
	if err != nil {
		return nil, err
	}
	h, err := v1.Hasher(want.Algorithm)
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", want, err)
	}
	rc, err := b.l.Compressed()
	if err != nil {
		return nil, err
	}
	return &verifyingReader{rc: rc, hash: h, want: want, size: size}, nil
}

// verifyingReader reads a blob and fails at its end (or past its size)
// when the bytes do not match the descriptor.
type verifyingReader struct {
	rc   io.ReadCloser
	hash hash.Hash
	want v1.Hash
	size int64
	n    int64
}

func (r *verifyingReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.hash.Write(p[:n])
	r.n += int64(n)
	if r.n > r.size {
		return n, fmt.Errorf("blob %s is larger than its descriptor's %d bytes", r.want, r.size)
	}
	if errors.Is(err, io.EOF) {
		if got := fmt.Sprintf("%x", r.hash.Sum(nil)); r.n != r.size || got != r.want.Hex {
			return n, fmt.Errorf("blob %s does not match its digest and size (%d bytes, sha %s)", r.want, r.n, got)
		}
	}
	return n, err
}

func (r *verifyingReader) Close() error { return r.rc.Close() }
