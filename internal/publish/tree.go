package publish

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"golang.org/x/sync/errgroup"
)

// blobJobs bounds the blobs copied at once, as crane does.
const blobJobs = 4

// copyManifest copies the manifest dgst and everything it references,
// unless this Copy already did; isNew says whether it was the first visit.
func (c *copier) copyManifest(ctx context.Context, dgst string) (d *remote.Descriptor, isNew bool, err error) {
	d, err = c.srcPull.Get(ctx, c.src.Digest(dgst))
	if err != nil {
		return nil, false, fmt.Errorf("reading manifest %s: %w", dgst, err)
	}
	if !c.first(dgst) {
		return d, false, nil
	}
	return d, true, c.copyTree(ctx, d)
}

// copyTree writes d's blobs and child manifests, then d itself, each only
// when the destination lacks it. Children come first, so the destination
// never holds a manifest whose content is missing.
func (c *copier) copyTree(ctx context.Context, d *remote.Descriptor) error {
	if err := c.copyChildren(ctx, d); err != nil {
		return err
	}
	exists, err := c.manifestExists(ctx, d.Digest.String())
	if err != nil || exists {
		c.count(false, Counts{Manifests: 1})
		return err
	}
	if err := c.push.Put(ctx, c.dst.Digest(d.Digest.String()), d); err != nil {
		return fmt.Errorf("writing manifest %s: %w", d.Digest, err)
	}
	c.count(true, Counts{Manifests: 1})
	return nil
}

func (c *copier) copyChildren(ctx context.Context, d *remote.Descriptor) error {
	switch {
	case d.MediaType.IsIndex():
		idx, err := v1.ParseIndexManifest(bytes.NewReader(d.Manifest))
		if err != nil {
			return fmt.Errorf("parsing index %s: %w", d.Digest, err)
		}
		for _, m := range idx.Manifests {
			if _, _, err := c.copyManifest(ctx, m.Digest.String()); err != nil {
				return err
			}
		}
		return nil
	case d.MediaType.IsImage():
		m, err := v1.ParseManifest(bytes.NewReader(d.Manifest))
		if err != nil {
			return fmt.Errorf("parsing manifest %s: %w", d.Digest, err)
		}
		return c.copyBlobs(ctx, append([]v1.Descriptor{m.Config}, m.Layers...))
	}
	return fmt.Errorf("manifest %s has media type %q, which cannot be copied", d.Digest, d.MediaType)
}

// copyBlobs copies the blobs the destination lacks, a few at a time.
// Foreign (non-distributable) layers stay where they are.
func (c *copier) copyBlobs(ctx context.Context, blobs []v1.Descriptor) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(blobJobs)
	for _, b := range blobs {
		if !b.MediaType.IsDistributable() || !c.first(b.Digest.String()) {
			continue
		}
		g.Go(func() error { return c.copyBlob(gctx, b) })
	}
	return g.Wait()
}

func (c *copier) copyBlob(ctx context.Context, b v1.Descriptor) error {
	there, err := c.dstPull.Layer(ctx, c.dst.Digest(b.Digest.String()))
	if err != nil {
		return fmt.Errorf("checking blob %s: %w", b.Digest, err)
	}
	exists, err := partial.Exists(there)
	if err != nil {
		return fmt.Errorf("checking blob %s: %w", b.Digest, err)
	}
	if exists {
		c.count(false, Counts{Blobs: 1, Bytes: b.Size})
		return nil
	}
	l, err := c.srcPull.Layer(ctx, c.src.Digest(b.Digest.String()))
	if err != nil {
		return fmt.Errorf("reading blob %s: %w", b.Digest, err)
	}
	if err := c.push.Upload(ctx, c.dst, l); err != nil {
		return fmt.Errorf("writing blob %s: %w", b.Digest, err)
	}
	c.count(true, Counts{Blobs: 1, Bytes: b.Size})
	return nil
}

// manifestExists asks the destination whether it has the manifest dgst.
func (c *copier) manifestExists(ctx context.Context, dgst string) (bool, error) {
	_, err := c.dstPull.Head(ctx, c.dst.Digest(dgst))
	if isNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("checking manifest %s at the destination: %w", dgst, err)
	}
	return true, nil
}

func isNotFound(err error) bool {
	var terr *transport.Error
	return errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound
}
