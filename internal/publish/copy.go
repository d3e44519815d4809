// Package publish delivers released artifacts to their destinations: another
// OCI registry (Copy, with every signature, attestation and SBOM, then
// Resign with a release key) and a static file tree (PublishFiles, with a
// yum repository when it holds RPMs). Tag names come from ExpandTags.
package publish

import (
	"context"
	"fmt"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/kilnbuild/kiln/internal/oci"
)

// CopyRequest names what Copy copies and where.
type CopyRequest struct {
	// Source is the artifact, pinned by digest: host/repo@sha256:….
	Source string
	// Destination is the repository to copy into: host[:port]/path.
	Destination string
	// Tags are applied at the destination (already expanded, see ExpandTags).
	Tags []string
	// SourceRemote and DestinationRemote are the credentials and TLS
	// settings for each side.
	SourceRemote, DestinationRemote oci.Remote
}

// Counts are manifests, blobs and tags written (or found already there).
type Counts struct {
	Manifests int   `json:"manifests"`
	Blobs     int   `json:"blobs"`
	Tags      int   `json:"tags"`
	Bytes     int64 `json:"bytes"` // blob bytes
}

// CopyResult says what Copy did.
type CopyResult struct {
	// Reference is the artifact at the destination: repo@sha256:….
	Reference string `json:"reference"`
	Digest    string `json:"digest"`
	// Referrers are the manifests copied along because they refer to the
	// artifact (signatures, attestations, SBOMs), directly or through
	// another referrer.
	Referrers []oci.Descriptor `json:"referrers"`
	// Tags are the requested tags, now pointing at the artifact.
	Tags []string `json:"tags"`
	// Copied is what was written; Skipped what the destination already had.
	Copied  Counts `json:"copied"`
	Skipped Counts `json:"skipped"`
}

// Copy copies req.Source to req.Destination with the same digest: the
// manifest (an image, an artifact or an index, with all it references) and
// every referrer of it, found through the referrers API and cosign's tag
// schema (sha256-<hex>.sig, .att, .sbom), whose tags are carried over too.
// Content the destination already has is not sent again. The requested tags
// are applied last, once the signatures are in place.
func Copy(ctx context.Context, req CopyRequest) (CopyResult, error) {
	c, err := newCopier(ctx, req)
	if err != nil {
		return CopyResult{}, fmt.Errorf("copying %s to %s: %w", req.Source, req.Destination, err)
	}
	if err := c.run(ctx, req.Tags); err != nil {
		return CopyResult{}, fmt.Errorf("copying %s to %s: %w", req.Source, req.Destination, err)
	}
	return *c.res, nil
}

// copier holds one Copy's connections and bookkeeping.
type copier struct {
	src, dst name.Repository
	digest   string
	srcPull  *remote.Puller
	dstPull  *remote.Puller
	push     *remote.Pusher

	mu   sync.Mutex
	seen map[string]bool // manifests and blobs already handled
	res  *CopyResult
}

func newCopier(ctx context.Context, req CopyRequest) (*copier, error) {
	src, err := parsePinned(req.Source, req.SourceRemote)
	if err != nil {
		return nil, err
	}
	dst, err := name.NewRepository(req.Destination, req.DestinationRemote.NameOptions()...)
	if err != nil {
		return nil, fmt.Errorf("destination %q must be a repository (host[:port]/path): %w", req.Destination, err)
	}
	c := &copier{src: src.Context(), dst: dst, digest: src.DigestStr(), seen: map[string]bool{},
		res: &CopyResult{Reference: dst.Digest(src.DigestStr()).String(), Digest: src.DigestStr(), Referrers: []oci.Descriptor{}}}
	if c.srcPull, err = remote.NewPuller(req.SourceRemote.RemoteOptions(ctx)...); err != nil {
		return nil, err
	}
	if c.dstPull, err = remote.NewPuller(req.DestinationRemote.RemoteOptions(ctx)...); err != nil {
		return nil, err
	}
	c.push, err = remote.NewPusher(req.DestinationRemote.RemoteOptions(ctx)...)
	return c, err
}

// parsePinned parses a reference that must carry a digest.
func parsePinned(ref string, rem oci.Remote) (name.Digest, error) {
	d, err := name.NewDigest(ref, rem.NameOptions()...)
	if err != nil {
		return name.Digest{}, fmt.Errorf("source %q must be pinned by digest (host/repo@sha256:<hex>), "+
			"resolve the tag first: %w", ref, err)
	}
	return d, nil
}

func (c *copier) run(ctx context.Context, tags []string) error {
	root, _, err := c.copyManifest(ctx, c.digest)
	if err != nil {
		return err
	}
	if err := c.copyReferrers(ctx, c.digest, 0); err != nil {
		return err
	}
	for _, t := range tags {
		if err := c.applyTag(ctx, t, root, false); err != nil {
			return err
		}
	}
	c.res.Tags = append([]string{}, tags...)
	return nil
}

// first reports whether key is seen for the first time, and marks it.
func (c *copier) first(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen[key] {
		return false
	}
	c.seen[key] = true
	return true
}

// count adds to the copied or skipped counts.
func (c *copier) count(copied bool, add Counts) {
	c.mu.Lock()
	defer c.mu.Unlock()
	to := &c.res.Skipped
	if copied {
		to = &c.res.Copied
	}
	to.Manifests += add.Manifests
	to.Blobs += add.Blobs
	to.Tags += add.Tags
	to.Bytes += add.Bytes
}
