package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/kilnbuild/kiln/internal/attest"
	"github.com/kilnbuild/kiln/internal/oci"
)

// cosignSuffixes are cosign's tag-schema attachments (sha256-<hex>.<suffix>).
// Signatures and attestations accumulate layers, so their tags are merged
// rather than overwritten at the destination; see applyTag.
var cosignSuffixes = []struct {
	suffix string
	merge  bool
}{{"sig", true}, {"att", true}, {"sbom", false}}

// maxReferrerDepth bounds referrers of referrers (a signed SBOM, …).
const maxReferrerDepth = 4

// copyReferrers copies every manifest that refers to subject, as listed by
// the referrers API (or its tag-schema fallback) and by cosign's tags, and
// their own referrers in turn.
func (c *copier) copyReferrers(ctx context.Context, subject string, depth int) error {
	if depth >= maxReferrerDepth {
		return nil
	}
	descs, err := c.listReferrers(ctx, subject)
	if err != nil {
		return err
	}
	for _, r := range descs {
		_, isNew, err := c.copyManifest(ctx, r.Digest.String())
		if err != nil {
			return fmt.Errorf("copying referrer %s of %s: %w", r.Digest, subject, err)
		}
		if isNew {
			c.res.Referrers = append(c.res.Referrers, oci.DescriptorOf(r))
			if err := c.copyReferrers(ctx, r.Digest.String(), depth+1); err != nil {
				return err
			}
		}
	}
	return c.copyCosignTags(ctx, subject, depth)
}

func (c *copier) listReferrers(ctx context.Context, subject string) ([]v1.Descriptor, error) {
	idx, err := remote.Referrers(c.src.Digest(subject), remote.WithContext(ctx), remote.Reuse(c.srcPull))
	if err != nil {
		return nil, fmt.Errorf("listing referrers of %s: %w", subject, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading referrers of %s: %w", subject, err)
	}
	return m.Manifests, nil
}

// copyCosignTags copies the manifests behind subject's .sig, .att and
// .sbom tags (which need not name a subject) and tags them alike.
func (c *copier) copyCosignTags(ctx context.Context, subject string, depth int) error {
	for _, s := range cosignSuffixes {
		tag := oci.CosignTag(subject, s.suffix)
		d, err := c.srcPull.Get(ctx, c.src.Tag(tag))
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", c.src.Tag(tag), err)
		}
		if c.first(d.Digest.String()) {
			if err := c.copyTree(ctx, d); err != nil {
				return fmt.Errorf("copying %s: %w", c.src.Tag(tag), err)
			}
			c.res.Referrers = append(c.res.Referrers, oci.DescriptorOf(d.Descriptor))
			if err := c.copyReferrers(ctx, d.Digest.String(), depth+1); err != nil {
				return err
			}
		}
		if err := c.applyTag(ctx, tag, d, s.merge); err != nil {
			return err
		}
	}
	return nil
}

// applyTag points the destination's tag at d. A tag already there is left
// alone; one pointing elsewhere is moved, unless merge is set: then the
// layers of d it lacks are appended to it, so that signatures added at the
// destination (see Resign) survive a later Copy.
func (c *copier) applyTag(ctx context.Context, tag string, d *remote.Descriptor, merge bool) error {
	ref := c.dst.Tag(tag)
	cur, err := c.dstPull.Head(ctx, ref)
	switch {
	case isNotFound(err):
	case err != nil:
		return fmt.Errorf("checking tag %s: %w", ref, err)
	case cur.Digest == d.Digest:
		c.count(false, Counts{Tags: 1})
		return nil
	case merge:
		return c.mergeTag(ctx, ref, d)
	}
	if err := c.push.Put(ctx, ref, d); err != nil {
		return fmt.Errorf("tagging %s: %w", ref, err)
	}
	c.count(true, Counts{Tags: 1})
	return nil
}

// mergeTag appends to the manifest tagged ref the layers of d it lacks.
func (c *copier) mergeTag(ctx context.Context, ref name.Tag, d *remote.Descriptor) error {
	cur, err := c.dstPull.Get(ctx, ref)
	if err != nil {
		return fmt.Errorf("reading %s: %w", ref, err)
	}
	base, err := parseImageManifest(cur)
	if err != nil {
		return err
	}
	add, err := parseImageManifest(d)
	if err != nil {
		return err
	}
	missing := missingLayers(base.Layers, add.Layers)
	if len(missing) == 0 {
		c.count(false, Counts{Tags: 1})
		return nil
	}
	if _, err := putAppended(ctx, c.push, ref, cur.MediaType, base, missing); err != nil {
		return err
	}
	c.count(true, Counts{Manifests: 1, Tags: 1})
	return nil
}

func parseImageManifest(d *remote.Descriptor) (*v1.Manifest, error) {
	if !d.MediaType.IsImage() {
		return nil, fmt.Errorf("manifest %s is a %s, not an image manifest", d.Digest, d.MediaType)
	}
	m, err := v1.ParseManifest(bytes.NewReader(d.Manifest))
	if err != nil {
		return nil, fmt.Errorf("parsing manifest %s: %w", d.Digest, err)
	}
	return m, nil
}

// missingLayers lists the layers of add that have has not, comparing the
// digest and the cosign signature annotation (two signatures of the same
// payload differ only there).
func missingLayers(has, add []v1.Descriptor) []v1.Descriptor {
	key := func(l v1.Descriptor) string {
		return l.Digest.String() + " " + l.Annotations[attest.AnnotationSignature]
	}
	var out []v1.Descriptor
	for _, l := range add {
		if !slices.ContainsFunc(has, func(h v1.Descriptor) bool { return key(h) == key(l) }) {
			out = append(out, l)
		}
	}
	return out
}

// putAppended writes base with extra layers appended under tag, whose
// blobs must already be in the repository, and returns its digest.
func putAppended(ctx context.Context, p *remote.Pusher, tag name.Tag, mt types.MediaType, base *v1.Manifest, extra []v1.Descriptor) (v1.Hash, error) {
	m := *base
	m.Layers = append(slices.Clone(base.Layers), extra...)
	raw, err := json.Marshal(m)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("encoding manifest for %s: %w", tag, err)
	}
	h, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return v1.Hash{}, err
	}
	if err := p.Put(ctx, tag, oci.ManifestBytes{Raw: raw, Type: mt}); err != nil {
		return v1.Hash{}, fmt.Errorf("writing %s: %w", tag, err)
	}
	return h, nil
}
