package pipelinerun

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/kilnbuild/kiln/internal/oci"
	"github.com/kilnbuild/kiln/internal/pipeline"
)

// StepImages pulls and unpacks the step images of namespace ns's builds
// and runs (a pipeline.RunOptions ImageResolver). Images in Kiln's registries (the embedded one and the push
// registry, read with Kiln's own credentials) must belong to ns. Every use
// resolves the manifest through the registry (oci.Unpack), so a digest
// unpacked for someone else is never used on the strength of the cache;
// and each namespace has its own cache directory, deleted with it.
func (e *Runner) StepImages(ctx context.Context, ns string) func(string) (string, string, error) {
	return func(image string) (string, string, error) {
		if image == pipeline.BuildrootImage {
			return "", "", fmt.Errorf("%s is the buildroot Kiln composes for a build of a component (the debian pipeline): "+
				"other runs cannot use it; name an image that has what the step needs", image)
		}
		if err := e.CheckImage(ns, image); err != nil {
			return "", "", err
		}
		rootfs, digest, err := oci.Unpack(ctx, image, e.imageCacheDir(ns), e.RemoteFor(image))
		if err != nil {
			return "", "", fmt.Errorf("namespace %s cannot pull it (check the reference, and that the image is in a repository the namespace may read): %w", ns, err)
		}
		return rootfs, digest, nil
	}
}

// CheckImage refuses an image of another namespace in one of Kiln's
// registries: Kiln reads those with credentials that reach every tenant.
func (e *Runner) CheckImage(ns, image string) error {
	owner, ok := e.kilnNamespace(image)
	if !ok || owner == ns {
		return nil
	}
	return fmt.Errorf("image %s belongs to namespace %q: builds and runs of namespace %q may only use images of their own namespace from Kiln's registry (push it to %s/%s/…)",
		image, owner, ns, e.Registry, ns)
}

// kilnNamespace returns the namespace of a reference into one of Kiln's
// registries (<registry>/<namespace>/…); ok is false for other registries.
// It matches exactly the references RemoteFor gives Kiln's credentials.
func (e *Runner) kilnNamespace(ref string) (string, bool) {
	for _, host := range e.hosts() {
		if rest, ok := strings.CutPrefix(ref, host+"/"); host != "" && ok {
			ns, _, _ := strings.Cut(rest, "/")
			return ns, true
		}
	}
	return "", false
}

// imageCacheDir is where namespace ns's step images are unpacked.
func (e *Runner) imageCacheDir(ns string) string {
	return filepath.Join(e.ImageCache, ns)
}
