package attest

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/kilnbuild/kiln/internal/oci"
)

// Envelope is one DSSE layer of an artifact's .att manifest, as stored:
// nothing about it is checked yet.
type Envelope struct {
	// PredicateType is what the layer's annotation claims.
	PredicateType string `json:"predicateType"`
	// DSSE is the envelope's JSON.
	DSSE json.RawMessage `json:"dsse"`
}

// ErrNoAttestations means the artifact has no .att manifest.
var ErrNoAttestations = errors.New("no attestations")

// FetchEnvelopes resolves ref (a tag or digest reference) and reads every
// DSSE layer of its .att manifest (cosign's convention), without checking
// them: OpenEnvelope does. It returns the artifact's repository and digest.
func FetchEnvelopes(ctx context.Context, ref string, rem oci.Remote) (repo, digest string, envs []Envelope, err error) {
	r := newReader(ctx, rem)
	defer r.close()
	parsed, err := name.ParseReference(ref, nameOptions(rem)...)
	if err != nil {
		return "", "", nil, fmt.Errorf("parsing reference %q: %w", ref, err)
	}
	if digest, err = r.head(parsed); err != nil {
		return "", "", nil, err
	}
	if d, ok := parsed.(name.Digest); ok && d.DigestStr() != digest {
		return "", "", nil, fmt.Errorf("registry resolved %s to %s", ref, digest)
	}
	tag := parsed.Context().Tag(oci.CosignTag(digest, "att"))
	m, err := r.manifest(tag)
	if errors.Is(err, errNotFound) {
		return parsed.Context().Name(), digest, nil, fmt.Errorf("%w: %s does not exist", ErrNoAttestations, tag)
	}
	if err != nil {
		return "", "", nil, err
	}
	for _, l := range m.Layers {
		if l.MediaType != MediaTypeDSSE {
			continue
		}
		raw, err := r.blob(parsed.Context(), l)
		if err != nil {
			return "", "", nil, err
		}
		envs = append(envs, Envelope{PredicateType: l.Annotations[AnnotationPredicateType], DSSE: raw})
	}
	return parsed.Context().Name(), digest, envs, nil
}

// Opened is the statement of an envelope.
type Opened struct {
	PredicateType string
	Subject       []Subject
	Predicate     json.RawMessage
	// Err says why the envelope does not verify: its signature does not
	// check with the key (or no key was given), or its subject is not the
	// artifact. Nil when it verified.
	Err error
}

// OpenEnvelope decodes an envelope's statement and verifies it: its
// signature against pub (nil: not verified) and that its subject names
// digest. A statement that does not verify is still returned, with Err
// saying why, so that callers can show what it claims as unverified. The
// error is for envelopes whose statement cannot be read at all.
func OpenEnvelope(ctx context.Context, raw []byte, digest string, pub crypto.PublicKey) (*Opened, error) {
	var env dsse.Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, fmt.Errorf("decoding DSSE envelope: %w", err)
	}
	body, err := env.DecodeB64Payload()
	if err != nil {
		return nil, fmt.Errorf("decoding DSSE payload: %w", err)
	}
	var st decodedStatement
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, fmt.Errorf("decoding in-toto statement: %w", err)
	}
	o := &Opened{PredicateType: st.PredicateType, Subject: st.Subject, Predicate: st.Predicate}
	switch {
	case pub == nil:
		o.Err = errors.New("no key to verify it with")
	default:
		if _, err := openEnvelope(ctx, raw, pub); err != nil {
			o.Err = err
		} else if !st.statement().names(digest) {
			o.Err = failure(ErrSubjectMismatch, "subject digest %s does not match artifact %s", subjectDigests(st.Subject), digest)
		}
	}
	return o, nil
}
