package attest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// simpleSigningType is the "type" of cosign's simple-signing payload.
const simpleSigningType = "cosign container image signature"

// simpleSigning is the payload cosign signs for `cosign sign` (the Red Hat
// "simple signing" format).
type simpleSigning struct {
	Critical struct {
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
	Optional map[string]any `json:"optional"`
}

// simpleSigningPayload is what the .sig layer holds for the artifact.
func simpleSigningPayload(repo, digest string) ([]byte, error) {
	var p simpleSigning
	p.Critical.Identity.DockerReference = repo
	p.Critical.Image.DockerManifestDigest = digest
	p.Critical.Type = simpleSigningType
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encoding signature payload: %w", err)
	}
	return b, nil
}

// signStatement encodes st and wraps it in a DSSE envelope signed with s.
func signStatement(ctx context.Context, s *Signer, st *Statement) ([]byte, error) {
	body, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encoding %s statement: %w", st.PredicateType, err)
	}
	es, err := dsse.NewEnvelopeSigner(dsseSigner{s})
	if err != nil {
		return nil, err
	}
	env, err := es.SignPayload(ctx, PayloadTypeInToto, body)
	if err != nil {
		return nil, fmt.Errorf("signing %s statement: %w", st.PredicateType, err)
	}
	b, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("encoding DSSE envelope: %w", err)
	}
	return b, nil
}

// openEnvelope checks a DSSE envelope's signature with pub and decodes the
// in-toto statement inside.
func openEnvelope(ctx context.Context, raw []byte, pub crypto.PublicKey) (*decodedStatement, error) {
	var env dsse.Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, fmt.Errorf("decoding DSSE envelope: %w", err)
	}
	if env.PayloadType != PayloadTypeInToto {
		return nil, fmt.Errorf("DSSE payloadType is %q, want %q", env.PayloadType, PayloadTypeInToto)
	}
	ev, err := dsse.NewEnvelopeVerifier(dsseVerifier{pub})
	if err != nil {
		return nil, err
	}
	_, body, err := ev.VerifyAndDecode(ctx, &env)
	if err != nil {
		return nil, failure(ErrAttestationSignature, "attestation signature invalid: no DSSE signature verifies with the given key (%v)", err)
	}
	var st decodedStatement
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, fmt.Errorf("decoding in-toto statement: %w", err)
	}
	if st.Type != StatementType {
		return nil, fmt.Errorf("statement _type is %q, want %q", st.Type, StatementType)
	}
	return &st, nil
}

// dsseSigner adapts Signer to DSSE. The key id is left empty, as cosign does.
type dsseSigner struct{ s *Signer }

func (d dsseSigner) Sign(_ context.Context, data []byte) ([]byte, error) { return d.s.Sign(data) }
func (d dsseSigner) KeyID() (string, error)                              { return "", nil }

// dsseVerifier adapts a public key to DSSE.
type dsseVerifier struct{ pub crypto.PublicKey }

func (d dsseVerifier) Verify(_ context.Context, data, sig []byte) error {
	return verifySignature(d.pub, data, sig)
}
func (d dsseVerifier) KeyID() (string, error)   { return "", nil }
func (d dsseVerifier) Public() crypto.PublicKey { return d.pub }

var errBadSignature = errors.New("signature does not verify")

// verifySignature checks sig over data the way cosign does for each key
// type: ECDSA (ASN.1) and RSA PKCS#1 v1.5 over SHA-256, Ed25519 over data.
func verifySignature(pub crypto.PublicKey, data, sig []byte) error {
	sum := sha256.Sum256(data)
	ok := false
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		ok = ecdsa.VerifyASN1(k, sum[:], sig)
	case *rsa.PublicKey:
		ok = rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], sig) == nil
	case ed25519.PublicKey:
		ok = ed25519.Verify(k, data, sig)
	default:
		return fmt.Errorf("unsupported public key type %T", pub)
	}
	if !ok {
		return errBadSignature
	}
	return nil
}
