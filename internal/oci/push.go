package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// Media and artifact types Kiln writes.
const (
	DefaultArtifactType = "application/vnd.kiln.artifact.v1"
	MediaTypeEmpty      = "application/vnd.oci.empty.v1+json"
	MediaTypeLayer      = string(types.OCILayer) // tar+gzip
	AnnotationCreated   = "org.opencontainers.image.created"
	AnnotationSource    = "org.opencontainers.image.source"
	AnnotationRevision  = "org.opencontainers.image.revision"
)

// emptyJSON is the OCI empty descriptor's content.
var emptyJSON = []byte("{}")

// PushOptions tune a push.
type PushOptions struct {
	Remote
	// Tags are pushed in addition to ref's own tag (e.g. commit, build number).
	Tags []string
	// Epoch is the timestamp written everywhere (SOURCE_DATE_EPOCH); the zero
	// value means 1970-01-01T00:00:00Z.
	Epoch time.Time
	// ArtifactType of an artifact manifest (default DefaultArtifactType).
	ArtifactType string
	// Annotations of the manifest; org.opencontainers.image.created defaults
	// to Epoch.
	Annotations map[string]string
	// Subject makes the artifact a referrer of another manifest.
	Subject *Descriptor
	// TempDir holds layer files while pushing (default os.TempDir()).
	TempDir string
}

func (o PushOptions) epoch() time.Time {
	if o.Epoch.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return o.Epoch.UTC().Truncate(time.Second)
}

func (o PushOptions) annotations() map[string]string {
	out := map[string]string{AnnotationCreated: o.epoch().Format(time.RFC3339)}
	for k, v := range o.Annotations {
		out[k] = v
	}
	return out
}

// Blob is one in-memory layer of an artifact.
type Blob struct {
	MediaType   string
	Data        []byte
	Annotations map[string]string
}

// PushArtifact pushes an OCI 1.1 artifact manifest (empty config,
// opts.ArtifactType, opts.Subject) whose layers are in-memory blobs; an
// artifact without blobs gets the empty blob as its one layer.
func PushArtifact(ctx context.Context, ref string, blobs []Blob, opts PushOptions) (Descriptor, error) {
	if len(blobs) == 0 {
		blobs = []Blob{{MediaType: MediaTypeEmpty, Data: emptyJSON}}
	}
	layers := make([]v1.Layer, len(blobs))
	annotations := make([]map[string]string, len(blobs))
	for i, b := range blobs {
		layers[i] = static.NewLayer(b.Data, types.MediaType(b.MediaType))
		annotations[i] = b.Annotations
	}
	d, err := pushArtifact(ctx, ref, layers, annotations, opts)
	if err != nil {
		return Descriptor{}, fmt.Errorf("pushing %s: %w", ref, err)
	}
	return d, nil
}

// PushDirectory pushes dir as a reproducible artifact: one tar+gzip layer
// (see writeTar for the rules), empty config, opts.ArtifactType. The same
// content always gives the same manifest digest.
func PushDirectory(ctx context.Context, ref, dir string, opts PushOptions) (Descriptor, error) {
	layer, err := buildLayer(dir, opts.TempDir, opts.epoch())
	if err != nil {
		return Descriptor{}, fmt.Errorf("pushing %s: %w", ref, err)
	}
	defer layer.Close()
	d, err := pushArtifact(ctx, ref, []v1.Layer{layer}, nil, opts)
	if err != nil {
		return Descriptor{}, fmt.Errorf("pushing %s: %w", ref, err)
	}
	return d, nil
}

// artifactManifest builds the manifest of an artifact from its layers.
func artifactManifest(layers []v1.Layer, annotations []map[string]string, opts PushOptions) (*v1.Manifest, error) {
	m := &v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  cmpOr(opts.ArtifactType, DefaultArtifactType),
		Config:        emptyDescriptor(),
		Layers:        make([]v1.Descriptor, len(layers)),
		Annotations:   opts.annotations(),
	}
	for i, l := range layers {
		var a map[string]string
		if i < len(annotations) {
			a = annotations[i]
		}
		d, err := LayerDescriptor(l, a)
		if err != nil {
			return nil, err
		}
		m.Layers[i] = d
	}
	if opts.Subject != nil {
		s, err := toV1(*opts.Subject)
		if err != nil {
			return nil, err
		}
		m.Subject = &s
	}
	return m, nil
}

func emptyDescriptor() v1.Descriptor {
	h, _, _ := v1.SHA256(bytes.NewReader(emptyJSON))
	return v1.Descriptor{MediaType: MediaTypeEmpty, Digest: h, Size: int64(len(emptyJSON))}
}

// LayerDescriptor describes l as a manifest layer with annotations.
func LayerDescriptor(l v1.Layer, annotations map[string]string) (v1.Descriptor, error) {
	d, err := l.Digest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	size, err := l.Size()
	if err != nil {
		return v1.Descriptor{}, err
	}
	mt, err := l.MediaType()
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mt, Digest: d, Size: size, Annotations: annotations}, nil
}

func toV1(d Descriptor) (v1.Descriptor, error) {
	h, err := v1.NewHash(d.Digest)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("subject digest: %w", err)
	}
	return v1.Descriptor{MediaType: types.MediaType(d.MediaType), Digest: h, Size: d.Size,
		ArtifactType: d.ArtifactType}, nil
}

// pushArtifact uploads the empty config and the layers, then the manifest
// under ref and every extra tag.
func pushArtifact(ctx context.Context, ref string, layers []v1.Layer, annotations []map[string]string, opts PushOptions) (Descriptor, error) {
	m, err := artifactManifest(layers, annotations, opts)
	if err != nil {
		return Descriptor{}, err
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return Descriptor{}, err
	}
	blobs := append([]v1.Layer{static.NewLayer(emptyJSON, MediaTypeEmpty)}, layers...)
	manifest := ManifestBytes{Raw: raw, Type: types.OCIManifestSchema1}
	h, _, _ := v1.SHA256(bytes.NewReader(raw))
	if err := push(ctx, ref, blobs, manifest, h, opts); err != nil {
		return Descriptor{}, err
	}
	return Descriptor{MediaType: string(types.OCIManifestSchema1), ArtifactType: m.ArtifactType,
		Digest: h.String(), Size: int64(len(raw)), Annotations: m.Annotations}, nil
}

// push uploads blobs (nil for images, whose layers the pusher finds) and
// then t under ref and opts.Tags. t's digest is dgst.
func push(ctx context.Context, ref string, blobs []v1.Layer, t remote.Taggable, dgst v1.Hash, opts PushOptions) error {
	refs, err := pushRefs(ref, dgst, opts)
	if err != nil {
		return err
	}
	p, err := remote.NewPusher(opts.Remote.options(ctx)...)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, b := range blobs {
		g.Go(func() error { return p.Upload(gctx, refs[0].Context(), b) })
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("uploading blobs: %w", err)
	}
	for _, r := range refs {
		if err := p.Push(ctx, r, t); err != nil {
			return fmt.Errorf("writing manifest %s: %w", r, err)
		}
	}
	return nil
}

// pushRefs is ref followed by ref's repository tagged with each extra tag.
// A bare repository (no tag, no digest) pushes by digest only.
func pushRefs(ref string, dgst v1.Hash, opts PushOptions) ([]name.Reference, error) {
	first, err := name.ParseReference(ref, append(opts.Remote.nameOptions(), name.StrictValidation)...)
	if err != nil {
		repo, repoErr := name.NewRepository(ref, opts.Remote.nameOptions()...)
		if repoErr != nil {
			return nil, fmt.Errorf("parsing reference %q: %w", ref, err)
		}
		first = repo.Digest(dgst.String())
	}
	if d, ok := first.(name.Digest); ok && d.DigestStr() != dgst.String() {
		return nil, fmt.Errorf("reference %s names a digest, but the content's digest is %s", ref, dgst)
	}
	refs := []name.Reference{first}
	for _, tag := range opts.Tags {
		t, err := name.NewTag(first.Context().String()+":"+tag, opts.Remote.nameOptions()...)
		if err != nil {
			return nil, fmt.Errorf("tag %q: %w", tag, err)
		}
		refs = append(refs, t)
	}
	return refs, nil
}

// ManifestBytes is a manifest pushed as is (a remote.Taggable).
type ManifestBytes struct {
	Raw  []byte
	Type types.MediaType
}

func (m ManifestBytes) RawManifest() ([]byte, error)        { return m.Raw, nil }
func (m ManifestBytes) MediaType() (types.MediaType, error) { return m.Type, nil }

// CosignTag is cosign's tag for the signature, attestations or SBOM
// (suffix sig, att, sbom) of the artifact with digest: sha256-<hex>.<suffix>.
func CosignTag(digest, suffix string) string {
	return strings.Replace(digest, ":", "-", 1) + "." + suffix
}
