package attest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/kilnbuild/kiln/internal/oci"
)

func TestPublishLayoutFollowsCosign(t *testing.T) {
	tr := startRegistry(t)
	s := newSigner(t)
	ref, pub := publishFor(t, tr, s, "team/greet:v1")
	a := splitRef(ref)
	tags, err := oci.Tags(context.Background(), a.Name, tr.rem)
	must(t, err)
	tagPrefix := strings.Replace(a.Digest, ":", "-", 1)
	if got := strings.Join(tags, " "); got != tagPrefix+".att "+tagPrefix+".sbom "+tagPrefix+".sig v1" {
		t.Fatalf("tags = %s", got)
	}
	r := newReader(context.Background(), tr.rem)
	defer r.close()
	repo, err := name.NewRepository(a.Name)
	must(t, err)

	sig := fetchManifest(t, r, repo, tagPrefix+".sig", pub.Signature.Digest)
	checkSubject(t, sig, pub.Artifact, MediaTypeSimpleSigning)
	payload, err := r.blob(repo, sig.Layers[0])
	must(t, err)
	var p simpleSigning
	must(t, json.Unmarshal(payload, &p))
	if p.Critical.Identity.DockerReference != a.Name || p.Critical.Image.DockerManifestDigest != a.Digest ||
		p.Critical.Type != "cosign container image signature" || !strings.HasSuffix(string(payload), `"optional":null}`) {
		t.Fatalf("simple-signing payload = %s", payload)
	}
	rawSig, err := base64.StdEncoding.DecodeString(sig.Layers[0].Annotations[AnnotationSignature])
	must(t, err)
	must(t, verifySignature(s.PublicKey(), payload, rawSig))

	att := fetchManifest(t, r, repo, tagPrefix+".att", pub.Attestations.Digest)
	checkSubject(t, att, pub.Artifact, MediaTypeDSSE)
	var types []string
	for _, l := range att.Layers {
		sigAnn, ok := l.Annotations[AnnotationSignature]
		if l.MediaType != MediaTypeDSSE || !ok || sigAnn != "" {
			t.Fatalf("attestation layer %s: %+v", l.MediaType, l.Annotations)
		}
		types = append(types, l.Annotations[AnnotationPredicateType])
	}
	if strings.Join(types, " ") != PredicateSLSA+" "+PredicateSPDX {
		t.Fatalf("predicate types = %v", types)
	}

	sbom := fetchManifest(t, r, repo, tagPrefix+".sbom", pub.SBOM.Digest)
	checkSubject(t, sbom, pub.Artifact, MediaTypeSPDX)
	if sbom.Layers[0].MediaType != MediaTypeSPDX {
		t.Fatalf("sbom layer = %s", sbom.Layers[0].MediaType)
	}
}

func TestPublishedEvidenceIsListedAsReferrers(t *testing.T) {
	tr := startRegistry(t)
	ref, pub := publishFor(t, tr, newSigner(t), "team/greet:v1")
	ctx := context.Background()
	all, err := oci.Referrers(ctx, ref, "", tr.rem)
	must(t, err)
	if len(all) != 3 {
		t.Fatalf("%d referrers: %+v", len(all), all)
	}
	sboms, err := oci.Referrers(ctx, ref, MediaTypeSPDX, tr.rem)
	must(t, err)
	if len(sboms) != 1 || sboms[0].Digest != pub.SBOM.Digest {
		t.Fatalf("SPDX referrers = %+v, want %s", sboms, pub.SBOM.Digest)
	}
	atts, err := oci.Referrers(ctx, ref, MediaTypeDSSE, tr.rem)
	must(t, err)
	if len(atts) != 1 || atts[0].Digest != pub.Attestations.Digest {
		t.Fatalf("DSSE referrers = %+v", atts)
	}
}

func TestPublishRefusesBadInput(t *testing.T) {
	tr := startRegistry(t)
	s := newSigner(t)
	ref := tr.pushArtifact(t, "team/greet:v1", map[string]string{"a": "a"})
	ev := testEvidence(t, splitRef(ref), map[string]string{"a": "a"})
	ctx := context.Background()
	other := Artifact{Name: splitRef(ref).Name, Digest: "sha256:" + hex64('0')}
	wrong, err := Provenance(testProvenanceInput(other))
	must(t, err)
	for name, tc := range map[string]struct {
		ref  string
		ev   Evidence
		want string
	}{
		"tag reference":       {tr.host + "/team/greet:v1", ev, "digest reference"},
		"unknown digest":      {other.Name + "@" + other.Digest, ev, "resolving"},
		"no provenance":       {ref, Evidence{SBOM: ev.SBOM}, "provenance statement is required"},
		"provenance of other": {ref, Evidence{Provenance: wrong}, "does not name the artifact"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Publish(ctx, tc.ref, s, tc.ev, tr.rem)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestVerifyAcceptsPublishedEvidence(t *testing.T) {
	tr := startRegistry(t)
	s := newSigner(t)
	ref, pub := publishFor(t, tr, s, "team/greet:v1")
	for _, r := range []string{ref, tr.host + "/team/greet:v1"} {
		rep, err := Verify(context.Background(), r, s.PublicKey(), tr.rem, VerifyOptions{BuilderID: testBuilder})
		must(t, err)
		if !rep.Verified || rep.Digest != pub.Artifact.Digest || rep.Signatures != 1 || len(rep.Attestations) != 2 {
			t.Fatalf("report = %+v", rep)
		}
		if p := rep.Provenance; p.Commit != testCommit || p.SourceURI != "git+https://git.example.com/team/greet.git" ||
			p.InvocationID != "greet-7" || p.BuilderID != testBuilder {
			t.Fatalf("provenance summary = %+v", p)
		}
		if rep.SBOM.SPDXVersion != "SPDX-2.3" || rep.SBOM.Files != 2 || rep.SBOM.PlainSBOM == "" {
			t.Fatalf("sbom summary = %+v", rep.SBOM)
		}
		lines := strings.Join(rep.Summary(), "\n")
		if !strings.HasSuffix(lines, "\nverified") || !strings.Contains(lines, "built by "+testBuilder) {
			t.Fatalf("summary:\n%s", lines)
		}
		if _, err := json.Marshal(rep); err != nil {
			t.Fatal(err)
		}
	}
}

func TestVerifyNeedsBuilderID(t *testing.T) {
	tr := startRegistry(t)
	s := newSigner(t)
	ref, _ := publishFor(t, tr, s, "team/greet:v1")
	rep, err := Verify(context.Background(), ref, s.PublicKey(), tr.rem, VerifyOptions{})
	if err == nil || rep.Verified || !strings.Contains(err.Error(), "builder id is required") {
		t.Fatalf("err = %v", err)
	}
	var f *Failure
	if errors.As(err, &f) {
		t.Fatal("a usage error is reported as a verification failure")
	}
}

func fetchManifest(t *testing.T, r *reader, repo name.Repository, tag, wantDigest string) *v1.Manifest {
	t.Helper()
	m, err := r.manifest(repo.Tag(tag))
	must(t, err)
	d, err := r.head(repo.Tag(tag))
	must(t, err)
	if d != wantDigest {
		t.Fatalf("%s is %s, Publish said %s", tag, d, wantDigest)
	}
	return m
}

func checkSubject(t *testing.T, m *v1.Manifest, artifact oci.Descriptor, artifactType string) {
	t.Helper()
	if m.Subject == nil || m.Subject.Digest.String() != artifact.Digest || m.ArtifactType != artifactType {
		t.Fatalf("manifest subject = %+v, artifactType = %s", m.Subject, m.ArtifactType)
	}
}

// TestRebuiltArtifactKeepsEveryBuildsEvidence: a second build of the same
// bytes adds its statements to the artifact's .att instead of replacing
// them, so the .sbom an earlier build pushed stays attested — also when
// the second build stops after its .att (a crash) and never pushes .sbom.
func TestRebuiltArtifactKeepsEveryBuildsEvidence(t *testing.T) {
	tr := startRegistry(t)
	s := newSigner(t)
	files := map[string]string{"bin/greet": "#!/bin/sh\necho hello\n"}
	ref := tr.pushArtifact(t, "team/greet:v1", files)
	a := splitRef(ref)
	first := testEvidence(t, a, files)
	_, err := Publish(context.Background(), ref, s, first, tr.rem)
	must(t, err)

	second := testEvidence(t, a, files)
	second.SBOM.CreationInfo.Created = "2026-11-02T00:00:00Z" // another build, another document
	p := &publisher{signer: s, rem: tr.rem}
	p.target, err = resolveTarget(context.Background(), ref, tr.rem)
	must(t, err)
	sbom, err := MarshalSPDX(second.SBOM)
	must(t, err)
	if _, err := p.pushAttestations(context.Background(), second, sbom); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(context.Background(), ref, s.PublicKey(), tr.rem, VerifyOptions{BuilderID: testBuilder})
	if err != nil {
		t.Fatalf("after a second build's attestations without its .sbom: %v", err)
	}
	if len(rep.Attestations) != 4 {
		t.Fatalf("attestations = %+v, want both builds' provenance and SBOM", rep.Attestations)
	}

	if _, err := Publish(context.Background(), ref, s, second, tr.rem); err != nil {
		t.Fatal(err)
	}
	rep, err = Verify(context.Background(), ref, s.PublicKey(), tr.rem, VerifyOptions{BuilderID: testBuilder})
	must(t, err)
	if n := len(rep.Attestations); n != 6 {
		t.Fatalf("%d attestation layers after three publications, want 6", n)
	}
}
