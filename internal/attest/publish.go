package attest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spdx/tools-golang/spdx"
	"golang.org/x/sync/errgroup"

	"github.com/kilnbuild/kiln/internal/oci"
)

// Evidence is what Publish signs and pushes for one artifact.
type Evidence struct {
	// Provenance is the SLSA provenance statement (see Provenance). Required.
	Provenance *Statement
	// SBOM is the SPDX document (see SBOM). Verify requires it unless told
	// otherwise.
	SBOM *spdx.Document
	// Extra statements are attested too (e.g. NewStatement with a CycloneDX
	// BOM and PredicateCycloneDX).
	Extra []*Statement
}

// Published says what Publish pushed. Each manifest is also a referrer of
// the artifact (its subject), so the referrers API lists it.
type Published struct {
	Artifact     oci.Descriptor
	Signature    oci.Descriptor // <repo>:sha256-<hex>.sig
	Attestations oci.Descriptor // <repo>:sha256-<hex>.att
	SBOM         *oci.Descriptor
}

// Publish signs the artifact ref (repo@sha256:…) and pushes, to the same
// repository, cosign's signature (.sig), the DSSE-signed attestations
// (.att: provenance, SPDX SBOM, extras) and the plain SPDX SBOM (.sbom).
// Signing happens here, in Kiln's process.
func Publish(ctx context.Context, ref string, s *Signer, ev Evidence, rem oci.Remote) (*Published, error) {
	target, err := resolveTarget(ctx, ref, rem)
	if err != nil {
		return nil, fmt.Errorf("publishing evidence: %w", err)
	}
	p := &publisher{target: target, signer: s, rem: rem}
	out := &Published{Artifact: target.desc}
	sbom, err := p.sbomBytes(ev.SBOM)
	if err != nil {
		return nil, err
	}
	// The plain SBOM goes last: whoever reads .sbom and then .att (as
	// Verify does) finds it attested, even while another build of the same
	// bytes publishes its evidence.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { out.Signature, err = p.pushSignature(gctx); return err })
	g.Go(func() (err error) { out.Attestations, err = p.pushAttestations(gctx, ev, sbom); return err })
	err = g.Wait()
	if err == nil && sbom != nil {
		var d oci.Descriptor
		d, err = p.push(ctx, "sbom", MediaTypeSPDX, []oci.Blob{{MediaType: MediaTypeSPDX, Data: sbom}})
		out.SBOM = &d
	}
	if err != nil {
		return nil, fmt.Errorf("publishing evidence for %s: %w", ref, err)
	}
	return out, nil
}

// target is the artifact being signed.
type target struct {
	repo   name.Repository
	digest string
	desc   oci.Descriptor
}

func (t target) artifact() Artifact { return Artifact{Name: t.repo.Name(), Digest: t.digest} }

// tag is cosign's tag for the artifact's signature, attestations or SBOM.
func (t target) tag(suffix string) string {
	return t.repo.Name() + ":" + oci.CosignTag(t.digest, suffix)
}

// resolveTarget parses a digest reference and checks the registry has it.
func resolveTarget(ctx context.Context, ref string, rem oci.Remote) (target, error) {
	d, err := name.NewDigest(ref, nameOptions(rem)...)
	if err != nil {
		return target{}, fmt.Errorf("%q must be a digest reference (repo@sha256:…): %w", ref, err)
	}
	desc, err := oci.Resolve(ctx, ref, rem)
	if err != nil {
		return target{}, err
	}
	if desc.Digest != d.DigestStr() {
		return target{}, fmt.Errorf("registry resolved %s to %s", ref, desc.Digest)
	}
	return target{repo: d.Context(), digest: d.DigestStr(), desc: desc}, nil
}

type publisher struct {
	target target
	signer *Signer
	rem    oci.Remote
}

func (p *publisher) push(ctx context.Context, suffix, artifactType string, blobs []oci.Blob) (oci.Descriptor, error) {
	subject := p.target.desc
	return oci.PushArtifact(ctx, p.target.tag(suffix), blobs, oci.PushOptions{
		Remote: p.rem, ArtifactType: artifactType, Subject: &subject,
	})
}

// pushSignature pushes the .sig manifest: one simple-signing layer whose
// annotation holds the base64 signature of the payload.
func (p *publisher) pushSignature(ctx context.Context) (oci.Descriptor, error) {
	payload, err := simpleSigningPayload(p.target.repo.Name(), p.target.digest)
	if err != nil {
		return oci.Descriptor{}, err
	}
	sig, err := p.signer.Sign(payload)
	if err != nil {
		return oci.Descriptor{}, err
	}
	return p.push(ctx, "sig", MediaTypeSimpleSigning, []oci.Blob{{
		MediaType: MediaTypeSimpleSigning, Data: payload,
		Annotations: map[string]string{AnnotationSignature: base64.StdEncoding.EncodeToString(sig)},
	}})
}

// pushAttestations pushes the .att manifest for the evidence: the new
// statements after those the artifact already has (as cosign attest
// appends), so that an artifact rebuilt bit for bit keeps the provenance
// of every build that made it, and a plain .sbom pushed by an earlier
// build stays attested.
func (p *publisher) pushAttestations(ctx context.Context, ev Evidence, sbom []byte) (oci.Descriptor, error) {
	statements, err := p.statements(ev, sbom)
	if err != nil {
		return oci.Descriptor{}, err
	}
	blobs, err := p.signStatements(ctx, statements)
	if err != nil {
		return oci.Descriptor{}, err
	}
	earlier, err := p.earlierAttestations(ctx)
	if err != nil {
		return oci.Descriptor{}, err
	}
	return p.push(ctx, "att", MediaTypeDSSE, append(earlier, blobs...))
}

// maxEarlierAttestations bounds how many layers of an artifact's existing
// .att manifest are kept when another build of the same bytes adds its
// own: the newest ones.
const maxEarlierAttestations = 30

// earlierAttestations returns the DSSE layers of the artifact's .att
// manifest, newest last, or nothing when it has none.
func (p *publisher) earlierAttestations(ctx context.Context) ([]oci.Blob, error) {
	r := newReader(ctx, p.rem)
	defer r.close()
	m, err := r.manifest(p.target.repo.Tag(oci.CosignTag(p.target.digest, "att")))
	if errors.Is(err, errNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the artifact's attestations: %w", err)
	}
	layers := m.Layers
	if len(layers) > maxEarlierAttestations {
		layers = layers[len(layers)-maxEarlierAttestations:]
	}
	var out []oci.Blob
	for _, l := range layers {
		if l.MediaType != MediaTypeDSSE {
			continue
		}
		data, err := r.blob(p.target.repo, l)
		if err != nil {
			return nil, fmt.Errorf("reading the artifact's attestations: %w", err)
		}
		out = append(out, oci.Blob{MediaType: MediaTypeDSSE, Data: data, Annotations: l.Annotations})
	}
	return out, nil
}

// pushStatements pushes the .att manifest: one DSSE envelope layer per
// statement, annotated with its predicate type and the empty signature
// annotation cosign expects.
func (p *publisher) pushStatements(ctx context.Context, statements []*Statement) (oci.Descriptor, error) {
	blobs, err := p.signStatements(ctx, statements)
	if err != nil {
		return oci.Descriptor{}, err
	}
	return p.push(ctx, "att", MediaTypeDSSE, blobs)
}

// signStatements signs each statement into a DSSE envelope layer.
func (p *publisher) signStatements(ctx context.Context, statements []*Statement) ([]oci.Blob, error) {
	blobs := make([]oci.Blob, 0, len(statements))
	for _, st := range statements {
		env, err := signStatement(ctx, p.signer, st)
		if err != nil {
			return nil, err
		}
		blobs = append(blobs, oci.Blob{MediaType: MediaTypeDSSE, Data: env, Annotations: map[string]string{
			AnnotationPredicateType: st.PredicateType, AnnotationSignature: "",
		}})
	}
	return blobs, nil
}

// statements lists what goes into .att, checking each names the artifact.
func (p *publisher) statements(ev Evidence, sbom []byte) ([]*Statement, error) {
	if ev.Provenance == nil {
		return nil, errors.New("publishing evidence: a provenance statement is required")
	}
	out := append([]*Statement{ev.Provenance}, ev.Extra...)
	if sbom != nil {
		st, err := NewStatement(p.target.artifact(), PredicateSPDX, json.RawMessage(sbom))
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	for _, st := range out {
		if st.Type != StatementType {
			return nil, fmt.Errorf("statement %s has _type %q, want %q", st.PredicateType, st.Type, StatementType)
		}
		if !st.names(p.target.digest) {
			return nil, fmt.Errorf("%s statement does not name the artifact %s", st.PredicateType, p.target.digest)
		}
	}
	return out, nil
}

func (p *publisher) sbomBytes(doc *spdx.Document) ([]byte, error) {
	if doc == nil {
		return nil, nil
	}
	return MarshalSPDX(doc)
}
