package oci

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
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

// Untag removes tag from repo (host/path); the manifest stays, reachable
// by digest and by its other tags. A tag that does not exist is no error.
func Untag(ctx context.Context, repo, tag string, rem Remote) error {
	ref, err := rem.parse(repo + ":" + tag)
	if err != nil {
		return err
	}
	if err := remote.Delete(ref, rem.options(ctx)...); err != nil && !notFound(err) {
		return fmt.Errorf("removing tag %s:%s: %w", repo, tag, err)
	}
	return nil
}

func notFound(err error) bool {
	var terr *transport.Error
	return errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound
}
