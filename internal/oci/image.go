package oci

import (
	"context"
	"fmt"
	"maps"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ImageSpec describes a runnable image assembled from directories.
type ImageSpec struct {
	// Layers are directories, bottom layer first; each becomes one
	// reproducible tar+gzip layer.
	Layers []string
	// Config is the runtime configuration.
	Config ImageConfig
	// OS and Architecture default to linux/amd64.
	OS, Architecture string
}

// ImageConfig is the part of an OCI image config Kiln sets.
type ImageConfig struct {
	Entrypoint []string
	Cmd        []string
	Env        []string
	WorkingDir string
	User       string
	Labels     map[string]string
}

// PushImage assembles a runnable OCI image (no container daemon needed) and
// pushes it. All timestamps are opts.Epoch, so the same inputs give the same
// digest. opts.ArtifactType and opts.Subject are ignored.
func PushImage(ctx context.Context, ref string, spec ImageSpec, opts PushOptions) (Descriptor, error) {
	img, cleanup, err := buildImage(spec, opts)
	defer cleanup()
	if err != nil {
		return Descriptor{}, fmt.Errorf("pushing %s: %w", ref, err)
	}
	d, err := imageDescriptor(img)
	if err != nil {
		return Descriptor{}, fmt.Errorf("pushing %s: %w", ref, err)
	}
	h, _ := v1.NewHash(d.Digest)
	if err := push(ctx, ref, nil, img, h, opts); err != nil {
		return Descriptor{}, fmt.Errorf("pushing %s: %w", ref, err)
	}
	return d, nil
}

func buildImage(spec ImageSpec, opts PushOptions) (v1.Image, func(), error) {
	var layers []*fileLayer
	cleanup := func() {
		for _, l := range layers {
			l.Close()
		}
	}
	epoch := v1.Time{Time: opts.epoch()}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	for i, dir := range spec.Layers {
		l, err := buildLayer(dir, opts.TempDir, opts.epoch())
		if err != nil {
			return nil, cleanup, err
		}
		layers = append(layers, l)
		img, err = mutate.Append(img, mutate.Addendum{Layer: l,
			History: v1.History{Created: epoch, CreatedBy: fmt.Sprintf("kiln: layer %d", i)}})
		if err != nil {
			return nil, cleanup, err
		}
	}
	img, err := withConfig(img, spec, epoch)
	if err != nil {
		return nil, cleanup, err
	}
	return mutate.Annotations(img, opts.annotations()).(v1.Image), cleanup, nil
}

func withConfig(img v1.Image, spec ImageSpec, epoch v1.Time) (v1.Image, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = cmpOr(spec.OS, "linux"), cmpOr(spec.Architecture, "amd64")
	cf.Created = epoch
	c := spec.Config
	cf.Config = v1.Config{Entrypoint: c.Entrypoint, Cmd: c.Cmd, Env: c.Env,
		WorkingDir: c.WorkingDir, User: c.User, Labels: maps.Clone(c.Labels)}
	return mutate.ConfigFile(img, cf)
}

func imageDescriptor(img v1.Image) (Descriptor, error) {
	h, err := img.Digest()
	if err != nil {
		return Descriptor{}, err
	}
	size, err := img.Size()
	if err != nil {
		return Descriptor{}, err
	}
	m, err := img.Manifest()
	if err != nil {
		return Descriptor{}, err
	}
	return Descriptor{MediaType: string(types.OCIManifestSchema1), Digest: h.String(), Size: size,
		Annotations: m.Annotations}, nil
}
