package oci

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Tag points more tags at an existing manifest (ref is repo@digest or
// repo:tag); the manifest is copied as is, so its digest does not change.
func Tag(ctx context.Context, ref string, tags []string, rem Remote) error {
	src, err := rem.parse(ref)
	if err != nil {
		return err
	}
	desc, err := remote.Get(src, rem.options(ctx)...)
	if err != nil {
		return fmt.Errorf("reading %s: %w", ref, err)
	}
	for _, t := range tags {
		dst := src.Context().Tag(t)
		if err := remote.Tag(dst, desc, rem.options(ctx)...); err != nil {
			return fmt.Errorf("tagging %s as %s: %w", ref, t, err)
		}
	}
	return nil
}
