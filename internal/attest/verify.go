package attest

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spdx/tools-golang/spdx"

	"github.com/kilnbuild/kiln/internal/oci"
)

// VerifyOptions say what Verify requires.
type VerifyOptions struct {
	// BuilderID is the builder id the provenance must name. Required.
	BuilderID string
	// SBOMOptional accepts an artifact without an SPDX SBOM attestation.
	SBOMOptional bool
}

// Verify checks the evidence Publish pushed for ref (a tag or digest
// reference) against pub: the .sig signature over a payload naming the
// artifact's digest; the .att DSSE envelopes' signatures and subjects; a
// SLSA provenance from opts.BuilderID naming a git source and commit; an
// SPDX SBOM (and that the plain .sbom, if any, is the attested one). The
// report is returned in every case; the error is a *Failure for
// verification failures.
func Verify(ctx context.Context, ref string, pub crypto.PublicKey, rem oci.Remote, opts VerifyOptions) (*Report, error) {
	v := &verifier{ctx: ctx, pub: pub, opts: opts, r: newReader(ctx, rem), rep: &Report{Reference: ref}}
	defer v.r.close()
	err := v.run(ref, rem)
	if err != nil {
		v.rep.Error = err.Error()
		return v.rep, err
	}
	v.rep.Verified = true
	return v.rep, nil
}

type verifier struct {
	ctx    context.Context
	pub    crypto.PublicKey
	opts   VerifyOptions
	r      *reader
	rep    *Report
	target target
	// valid holds the verified statements by predicate type.
	valid map[string][]*decodedStatement
	// rejected holds, by claimed predicate type, why the first layer that
	// failed was rejected: the precise reason when a required type is missing.
	rejected map[string]error
	// plain is the .sbom document, nil when there is none.
	plain []byte
}

func (v *verifier) run(ref string, rem oci.Remote) error {
	if v.opts.BuilderID == "" {
		return errors.New("verify: the expected builder id is required")
	}
	if err := v.resolve(ref, rem); err != nil {
		return err
	}
	// The plain SBOM is read before the attestations: Publish writes it
	// after them, so it is attested even if another build of the same
	// bytes publishes its evidence meanwhile.
	for _, step := range []func() error{v.signature, v.readPlainSBOM, v.attestations, v.provenance, v.sbom} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// resolve sets the verifier's target to ref's digest.
func (v *verifier) resolve(ref string, rem oci.Remote) error {
	parsed, err := name.ParseReference(ref, nameOptions(rem)...)
	if err != nil {
		return fmt.Errorf("verify: parsing reference %q: %w", ref, err)
	}
	digest, err := v.r.head(parsed)
	if err != nil {
		return err
	}
	if d, ok := parsed.(name.Digest); ok && d.DigestStr() != digest {
		return fmt.Errorf("registry resolved %s to %s", ref, digest)
	}
	v.target = target{repo: parsed.Context(), digest: digest}
	v.rep.Digest = digest
	return nil
}

// signature checks the .sig layers; at least one must be a valid signature
// over a payload naming the artifact (as cosign requires).
func (v *verifier) signature() error {
	tag := v.target.repo.Tag(oci.CosignTag(v.target.digest, "sig"))
	m, err := v.r.manifest(tag)
	if errors.Is(err, errNotFound) {
		return failure(ErrNoSignature, "no signature: %s does not exist", tag)
	}
	if err != nil {
		return err
	}
	var last error
	for i, l := range m.Layers {
		if l.MediaType != MediaTypeSimpleSigning {
			continue
		}
		payload, err := v.r.blob(v.target.repo, l)
		if err != nil {
			return err
		}
		if err := v.checkSimpleSigning(payload, l.Annotations[AnnotationSignature]); err != nil {
			last = fmt.Errorf("%s layer %d: %w", tag, i, err)
			continue
		}
		v.rep.Signatures++
	}
	switch {
	case v.rep.Signatures > 0:
		return nil
	case last != nil:
		return last
	}
	return failure(ErrNoSignature, "no signature: %s has no simple-signing layer", tag)
}

func (v *verifier) checkSimpleSigning(payload []byte, sigB64 string) error {
	sig, err := base64.StdEncoding.DecodeString(sigB64)
	if err != nil || verifySignature(v.pub, payload, sig) != nil {
		return failure(ErrSignatureInvalid, "signature invalid: it does not verify with the given key")
	}
	var p simpleSigning
	if err := json.Unmarshal(payload, &p); err != nil {
		return fmt.Errorf("decoding signature payload: %w", err)
	}
	if got := p.Critical.Image.DockerManifestDigest; got != v.target.digest {
		return failure(ErrSignedDigest, "signature payload names %s, not the artifact %s", got, v.target.digest)
	}
	if p.Critical.Type != simpleSigningType {
		return fmt.Errorf("signature payload type is %q", p.Critical.Type)
	}
	return nil
}

// attestations opens every DSSE layer of .att, keeping those whose
// signature verifies and whose subject is the artifact.
func (v *verifier) attestations() error {
	tag := v.target.repo.Tag(oci.CosignTag(v.target.digest, "att"))
	m, err := v.r.manifest(tag)
	if errors.Is(err, errNotFound) {
		return failure(ErrNoProvenance, "no provenance: %s does not exist", tag)
	}
	if err != nil {
		return err
	}
	v.valid, v.rejected = map[string][]*decodedStatement{}, map[string]error{}
	for i, l := range m.Layers {
		if l.MediaType != MediaTypeDSSE {
			continue
		}
		res := AttestationResult{Layer: i, PredicateType: l.Annotations[AnnotationPredicateType]}
		st, err := v.openLayer(l)
		if err != nil {
			res.Error = err.Error()
			if v.rejected[res.PredicateType] == nil {
				v.rejected[res.PredicateType] = fmt.Errorf("%s layer %d (%s): %w", tag, i, res.PredicateType, err)
			}
		} else {
			res.Verified, res.PredicateType = true, st.PredicateType
			v.valid[st.PredicateType] = append(v.valid[st.PredicateType], st)
		}
		v.rep.Attestations = append(v.rep.Attestations, res)
	}
	return nil
}

// missing explains why no verified statement of predicateType exists: the
// rejection of a layer claiming that type, or else notFound.
func (v *verifier) missing(predicateType string, notFound error) error {
	if err := v.rejected[predicateType]; err != nil {
		return err
	}
	return notFound
}

func (v *verifier) openLayer(l v1.Descriptor) (*decodedStatement, error) {
	raw, err := v.r.blob(v.target.repo, l)
	if err != nil {
		return nil, err
	}
	st, err := openEnvelope(v.ctx, raw, v.pub)
	if err != nil {
		return nil, err
	}
	if !st.statement().names(v.target.digest) {
		return nil, failure(ErrSubjectMismatch, "subject digest %s does not match artifact %s",
			subjectDigests(st.Subject), v.target.digest)
	}
	return st, nil
}

func subjectDigests(subjects []Subject) string {
	var out []string
	for _, s := range subjects {
		for alg, d := range s.Digest {
			out = append(out, alg+":"+d)
		}
	}
	slices.Sort(out)
	if len(out) == 0 {
		return "(none)"
	}
	return strings.Join(out, ", ")
}

// provenance checks every verified SLSA provenance: the expected builder,
// Kiln's buildType, a git source URI and commit that is also a resolved
// dependency.
func (v *verifier) provenance() error {
	stmts := v.valid[PredicateSLSA]
	if len(stmts) == 0 {
		return v.missing(PredicateSLSA, failure(ErrNoProvenance, "no provenance: no %s attestation for %s", PredicateSLSA, v.target.digest))
	}
	for _, st := range stmts {
		var p SLSAProvenance
		if err := json.Unmarshal(st.Predicate, &p); err != nil {
			return fmt.Errorf("decoding provenance: %w", err)
		}
		if err := v.checkProvenance(&p); err != nil {
			return err
		}
		v.rep.Provenance = provenanceSummary(&p)
	}
	return nil
}

func (v *verifier) checkProvenance(p *SLSAProvenance) error {
	if got := p.RunDetails.Builder.ID; got != v.opts.BuilderID {
		return failure(ErrBuilderMismatch, "provenance builder id %q is not the expected %q", got, v.opts.BuilderID)
	}
	if p.BuildDefinition.BuildType != BuildType {
		return fmt.Errorf("provenance buildType is %q, want %q", p.BuildDefinition.BuildType, BuildType)
	}
	src := p.BuildDefinition.ExternalParameters.Source
	if src.URI == "" || src.Commit == "" {
		return failure(ErrNoSource, "provenance names no git source URI and commit")
	}
	for _, d := range p.BuildDefinition.ResolvedDependencies {
		if d.Digest["gitCommit"] == src.Commit {
			return nil
		}
	}
	return failure(ErrNoSource, "provenance's source commit %s is not among its resolved dependencies", src.Commit)
}

func provenanceSummary(p *SLSAProvenance) *ProvenanceSummary {
	s := &ProvenanceSummary{BuilderID: p.RunDetails.Builder.ID, BuildType: p.BuildDefinition.BuildType,
		SourceURI: p.BuildDefinition.ExternalParameters.Source.URI, Ref: p.BuildDefinition.ExternalParameters.Source.Ref,
		Commit: p.BuildDefinition.ExternalParameters.Source.Commit}
	if m := p.RunDetails.Metadata; m != nil {
		s.InvocationID, s.FinishedOn = m.InvocationID, m.FinishedOn
	}
	return s
}

// sbom checks the SPDX attestation and, when a plain .sbom exists, that it
// is byte for byte the attested document.
func (v *verifier) sbom() error {
	stmts := v.valid[PredicateSPDX]
	if len(stmts) == 0 {
		if v.opts.SBOMOptional {
			return nil
		}
		return v.missing(PredicateSPDX, failure(ErrNoSBOM, "no SBOM: no %s attestation for %s", PredicateSPDX, v.target.digest))
	}
	var doc spdx.Document
	if err := json.Unmarshal(stmts[0].Predicate, &doc); err != nil {
		return fmt.Errorf("decoding attested SPDX document: %w", err)
	}
	v.rep.SBOM = &SBOMSummary{SPDXVersion: doc.SPDXVersion, Name: doc.DocumentName, Packages: len(doc.Packages), Files: len(doc.Files)}
	if v.plain == nil {
		return nil
	}
	sum := sha256.Sum256(v.plain)
	v.rep.SBOM.PlainSBOM = "sha256:" + hex.EncodeToString(sum[:])
	for _, st := range stmts {
		if sha256.Sum256(st.Predicate) == sum {
			return nil
		}
	}
	return failure(ErrSBOMMismatch, "plain SBOM %s differs from the attested SBOM", v.rep.SBOM.PlainSBOM)
}

func (v *verifier) readPlainSBOM() (err error) {
	v.plain, err = v.plainSBOM()
	return err
}

// plainSBOM returns the .sbom layer, nil when there is none.
func (v *verifier) plainSBOM() ([]byte, error) {
	m, err := v.r.manifest(v.target.repo.Tag(oci.CosignTag(v.target.digest, "sbom")))
	if errors.Is(err, errNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for _, l := range m.Layers {
		if l.MediaType == MediaTypeSPDX {
			return v.r.blob(v.target.repo, l)
		}
	}
	return nil, nil
}
