package publish

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/kilnbuild/kiln/internal/attest"
	"github.com/kilnbuild/kiln/internal/oci"
)

// Resign adds a cosign signature made with signer (a managed namespace's
// release key) to the artifact ref (repo@sha256:…) in its registry. The
// signature is appended as one more simple-signing layer of the artifact's
// sha256-<hex>.sig manifest, so the builder's signature stays and both
// `cosign verify --key builder.pub` and `--key release.pub` pass. When the
// artifact has no .sig yet, one is created with the artifact as subject.
// Nothing is written when signer has already signed it.
func Resign(ctx context.Context, ref string, signer *attest.Signer, rem oci.Remote) error {
	d, err := name.NewDigest(ref, rem.NameOptions()...)
	if err != nil {
		return fmt.Errorf("re-signing: %q must be pinned by digest (repo@sha256:<hex>): %w", ref, err)
	}
	signed, err := alreadySigned(ctx, ref, signer, rem)
	if err != nil || signed {
		return err
	}
	blob, err := attest.SignatureBlob(d.Context().Name(), d.DigestStr(), signer)
	if err != nil {
		return fmt.Errorf("re-signing %s: %w", ref, err)
	}
	if err := appendSignature(ctx, d, blob, rem); err != nil {
		return fmt.Errorf("re-signing %s: %w", ref, err)
	}
	return nil
}

// alreadySigned reports whether ref's .sig holds a valid signature by signer.
func alreadySigned(ctx context.Context, ref string, signer *attest.Signer, rem oci.Remote) (bool, error) {
	_, err := attest.VerifySignature(ctx, ref, signer.PublicKey(), rem)
	var f *attest.Failure
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &f):
		return false, nil
	}
	return false, fmt.Errorf("re-signing %s: %w", ref, err)
}

// appendSignature adds blob to the artifact's .sig manifest, or creates it.
func appendSignature(ctx context.Context, d name.Digest, blob oci.Blob, rem oci.Remote) error {
	tag := d.Context().Tag(oci.CosignTag(d.DigestStr(), "sig"))
	pull, err := remote.NewPuller(rem.RemoteOptions(ctx)...)
	if err != nil {
		return err
	}
	cur, err := pull.Get(ctx, tag)
	if isNotFound(err) {
		return newSignature(ctx, d, tag, blob, rem)
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", tag, err)
	}
	base, err := parseImageManifest(cur)
	if err != nil {
		return err
	}
	push, err := remote.NewPusher(rem.RemoteOptions(ctx)...)
	if err != nil {
		return err
	}
	layer := static.NewLayer(blob.Data, types.MediaType(blob.MediaType))
	if err := push.Upload(ctx, d.Context(), layer); err != nil {
		return fmt.Errorf("writing signature blob: %w", err)
	}
	desc, err := oci.LayerDescriptor(layer, blob.Annotations)
	if err != nil {
		return err
	}
	_, err = putAppended(ctx, push, tag, cur.MediaType, base, []v1.Descriptor{desc})
	return err
}

// newSignature pushes a .sig artifact with one layer, as attest.Publish does.
func newSignature(ctx context.Context, d name.Digest, tag name.Tag, blob oci.Blob, rem oci.Remote) error {
	subject, err := oci.Resolve(ctx, d.String(), rem)
	if err != nil {
		return err
	}
	_, err = oci.PushArtifact(ctx, tag.String(), []oci.Blob{blob}, oci.PushOptions{
		Remote: rem, ArtifactType: attest.MediaTypeSimpleSigning, Subject: &subject,
	})
	return err
}
