package attest

import (
	"context"
	"crypto"
	"encoding/base64"
	"fmt"

	"github.com/kilnbuild/kiln/internal/oci"
)

// SignatureBlob is one cosign simple-signing layer for repo@digest, signed
// by s: the payload Publish puts in .sig, with its base64 signature in the
// dev.cosignproject.cosign/signature annotation. Appending it to an
// existing .sig manifest adds a signature (for example a release key's)
// and keeps the others.
func SignatureBlob(repo, digest string, s *Signer) (oci.Blob, error) {
	payload, err := simpleSigningPayload(repo, digest)
	if err != nil {
		return oci.Blob{}, err
	}
	sig, err := s.Sign(payload)
	if err != nil {
		return oci.Blob{}, fmt.Errorf("signing %s@%s: %w", repo, digest, err)
	}
	return oci.Blob{MediaType: MediaTypeSimpleSigning, Data: payload,
		Annotations: map[string]string{AnnotationSignature: base64.StdEncoding.EncodeToString(sig)}}, nil
}

// VerifySignature checks only the cosign signature of ref (a tag or digest
// reference): at least one .sig layer must verify with pub and name the
// artifact's digest, as `cosign verify --key` requires. Use it for keys that
// sign releases but not attestations; Verify checks everything. The report
// is returned in every case.
func VerifySignature(ctx context.Context, ref string, pub crypto.PublicKey, rem oci.Remote) (*Report, error) {
	v := &verifier{ctx: ctx, pub: pub, r: newReader(ctx, rem), rep: &Report{Reference: ref}}
	defer v.r.close()
	err := v.resolve(ref, rem)
	if err == nil {
		err = v.signature()
	}
	if err != nil {
		v.rep.Error = err.Error()
		return v.rep, err
	}
	v.rep.Verified = true
	return v.rep, nil
}
