package attest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/internal/oci"
)

// tamperCase changes what Publish pushed; Verify must fail with want, and
// so must the cosign commands listed (cosign checks signatures and
// subjects, not Kiln's provenance policy).
type tamperCase struct {
	name string
	// tamper returns the reference to verify.
	tamper       func(t *testing.T, env *tamperEnv) string
	opts         VerifyOptions
	want         error
	cosignVerify bool     // `cosign verify` must fail too
	cosignTypes  []string // `cosign verify-attestation --type` that must fail
	// cosignSays holds cosign's reasons: each failure must give one.
	cosignSays []string
}

type tamperEnv struct {
	tr        *testRegistry
	signer    *Signer
	ref       string // the published artifact, repo@digest
	tag       string // repo:tag it was pushed under
	published *Published
}

// publisher returns a publisher for ref that signs with s.
func (e *tamperEnv) publisher(t *testing.T, ref string, s *Signer) *publisher {
	t.Helper()
	tg, err := resolveTarget(context.Background(), ref, e.tr.rem)
	must(t, err)
	return &publisher{target: tg, signer: s, rem: e.tr.rem}
}

// statements rebuilds the published statements (provenance, SBOM).
func (e *tamperEnv) statements(t *testing.T) []*Statement {
	t.Helper()
	ev := testEvidence(t, splitRef(e.ref), map[string]string{"a": "b"})
	sbom, err := MarshalSPDX(ev.SBOM)
	must(t, err)
	p := e.publisher(t, e.ref, e.signer)
	st, err := p.statements(ev, sbom)
	must(t, err)
	return st
}

var tamperCases = []tamperCase{{
	name: "artifact changed and tag re-pointed",
	tamper: func(t *testing.T, e *tamperEnv) string {
		e.tr.pushArtifact(t, strings.TrimPrefix(e.tag, e.tr.host+"/"), map[string]string{"bin/greet": "#!/bin/sh\necho hellO\n"})
		return e.tag
	},
	want: ErrNoSignature, cosignVerify: true, cosignTypes: []string{"slsaprovenance1"},
	cosignSays: []string{"no signatures found", "no matching attestations"},
}, {
	name: "evidence re-tagged onto another artifact",
	tamper: func(t *testing.T, e *tamperEnv) string {
		other := e.tr.pushArtifact(t, strings.TrimPrefix(splitRef(e.ref).Name, e.tr.host+"/")+":other", map[string]string{"x": "y"})
		prefix := strings.Replace(splitRef(other).Digest, ":", "-", 1)
		for suffix, d := range map[string]string{".sig": e.published.Signature.Digest, ".att": e.published.Attestations.Digest, ".sbom": e.published.SBOM.Digest} {
			must(t, oci.Tag(context.Background(), splitRef(e.ref).Name+"@"+d, []string{prefix + suffix}, e.tr.rem))
		}
		return other
	},
	want: ErrSignedDigest, cosignVerify: true, cosignTypes: []string{"slsaprovenance1", "spdxjson"},
	cosignSays: []string{"invalid or missing digest in claim", "no matching subject digest found"},
}, {
	name: "signature by another key",
	tamper: func(t *testing.T, e *tamperEnv) string {
		_, err := e.publisher(t, e.ref, newSigner(t)).pushSignature(context.Background())
		must(t, err)
		return e.ref
	},
	want: ErrSignatureInvalid, cosignVerify: true, cosignSays: []string{"invalid signature"},
}, {
	name: "attestations signed by another key",
	tamper: func(t *testing.T, e *tamperEnv) string {
		_, err := e.publisher(t, e.ref, newSigner(t)).pushStatements(context.Background(), e.statements(t))
		must(t, err)
		return e.ref
	},
	want: ErrAttestationSignature, cosignTypes: []string{"slsaprovenance1", "spdxjson"},
	cosignSays: []string{"accepted signatures do not match threshold"},
}, {
	name: "only the SBOM attestation signed by another key",
	tamper: func(t *testing.T, e *tamperEnv) string {
		stmts, other := e.statements(t), newSigner(t)
		var blobs []oci.Blob
		for i, signer := range []*Signer{e.signer, other} {
			env, err := signStatement(context.Background(), signer, stmts[i])
			must(t, err)
			blobs = append(blobs, oci.Blob{MediaType: MediaTypeDSSE, Data: env, Annotations: map[string]string{
				AnnotationPredicateType: stmts[i].PredicateType, AnnotationSignature: ""}})
		}
		_, err := e.publisher(t, e.ref, e.signer).push(context.Background(), "att", MediaTypeDSSE, blobs)
		must(t, err)
		return e.ref
	},
	want: ErrAttestationSignature, cosignTypes: []string{"spdxjson"},
	// cosign, too, drops the bad layer and then misses the type.
	cosignSays: []string{"none of the attestations matched the predicate type: spdxjson"},
}, {
	name: "subject digest replaced",
	tamper: func(t *testing.T, e *tamperEnv) string {
		stmts := e.statements(t)
		for _, st := range stmts {
			st.Subject[0].Digest = map[string]string{"sha256": hex64('9')}
		}
		_, err := e.publisher(t, e.ref, e.signer).pushStatements(context.Background(), stmts)
		must(t, err)
		return e.ref
	},
	want: ErrSubjectMismatch, cosignTypes: []string{"slsaprovenance1", "spdxjson"},
	cosignSays: []string{"no matching subject digest found"},
}, {
	name: "provenance removed",
	tamper: func(t *testing.T, e *tamperEnv) string {
		_, err := e.publisher(t, e.ref, e.signer).pushStatements(context.Background(), e.statements(t)[1:])
		must(t, err)
		return e.ref
	},
	want: ErrNoProvenance, cosignTypes: []string{"slsaprovenance1"},
	cosignSays: []string{"none of the attestations matched the predicate type"},
}, {
	name: "SBOM attestation removed",
	tamper: func(t *testing.T, e *tamperEnv) string {
		_, err := e.publisher(t, e.ref, e.signer).pushStatements(context.Background(), e.statements(t)[:1])
		must(t, err)
		return e.ref
	},
	want: ErrNoSBOM, cosignTypes: []string{"spdxjson"},
	cosignSays: []string{"none of the attestations matched the predicate type"},
}, {
	name: "plain SBOM replaced",
	tamper: func(t *testing.T, e *tamperEnv) string {
		_, err := e.publisher(t, e.ref, e.signer).push(context.Background(), "sbom", MediaTypeSPDX,
			[]oci.Blob{{MediaType: MediaTypeSPDX, Data: []byte(`{"spdxVersion":"SPDX-2.3"}`)}})
		must(t, err)
		return e.ref
	},
	want: ErrSBOMMismatch,
}, {
	name:   "another builder expected",
	tamper: func(t *testing.T, e *tamperEnv) string { return e.ref },
	opts:   VerifyOptions{BuilderID: "https://evil.example/builder"},
	want:   ErrBuilderMismatch,
}}

func TestTamperingIsDetected(t *testing.T) {
	tr := startRegistry(t)
	s := newSigner(t)
	c := maybeCosign(t, tr, s)
	for i, tc := range tamperCases {
		t.Run(tc.name, func(t *testing.T) {
			repo := "team/tamper" + string(rune('a'+i))
			ref, pub := publishFor(t, tr, s, repo+":v1")
			env := &tamperEnv{tr: tr, signer: s, ref: ref, tag: tr.host + "/" + repo + ":v1", published: pub}
			target := tc.tamper(t, env)
			opts := tc.opts
			if opts.BuilderID == "" {
				opts.BuilderID = testBuilder
			}
			rep, err := Verify(context.Background(), target, s.PublicKey(), tr.rem, opts)
			if !errors.Is(err, tc.want) || rep.Verified {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			t.Logf("Verify: %v", err)
			if !tc.cosignVerify && len(tc.cosignTypes) == 0 {
				return
			}
			if c == nil {
				t.Log("go tool cosign unavailable: cosign part skipped")
				return
			}
			c.t = t
			if tc.cosignVerify {
				out, err := c.verify(target)
				c.mustFailWith("a tampered signature", out, err, tc.cosignSays)
			}
			for _, typ := range tc.cosignTypes {
				out, err := c.verifyAttestation(target, typ)
				c.mustFailWith("a tampered "+typ+" attestation", out, err, tc.cosignSays)
			}
		})
	}
}

func TestTamperingWithSBOMOptional(t *testing.T) {
	tr := startRegistry(t)
	s := newSigner(t)
	ref, _ := publishFor(t, tr, s, "team/greet:v1")
	env := &tamperEnv{tr: tr, signer: s, ref: ref}
	_, err := env.publisher(t, ref, s).pushStatements(context.Background(), env.statements(t)[:1])
	must(t, err)
	rep, err := Verify(context.Background(), ref, s.PublicKey(), tr.rem, VerifyOptions{BuilderID: testBuilder, SBOMOptional: true})
	if err != nil || !rep.Verified || rep.SBOM != nil {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
}
