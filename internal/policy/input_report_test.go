package policy

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/attest"
)

// verifiedReport is what attest.Verify returns for a good artifact with a
// third, tampered layer.
func verifiedReport() *attest.Report {
	return &attest.Report{
		Reference: testImage + ":v1", Digest: testDigest, Verified: false, Signatures: 1,
		Error: ".att layer 2 (https://cyclonedx.org/bom): attestation signature invalid: it does not verify",
		Attestations: []attest.AttestationResult{
			{Layer: 0, PredicateType: attest.PredicateSLSA, Verified: true},
			{Layer: 1, PredicateType: attest.PredicateSPDX, Verified: true},
			{Layer: 2, PredicateType: attest.PredicateCycloneDX, Error: "attestation signature invalid: it does not verify"},
		},
	}
}

func snapshotSpec() v1alpha1.SnapshotSpec {
	return v1alpha1.SnapshotSpec{Application: "hello", Components: []v1alpha1.SnapshotComponent{
		{Name: "greet", ContainerImage: testImage + "@" + testDigest,
			Source: &v1alpha1.SnapshotSource{Git: &v1alpha1.SnapshotGitSource{URL: testRepo, Revision: testCommit}}},
		{Name: "web", ContainerImage: "kiln.example.com/team/web@sha256:" + strings.Repeat("f0", 32)},
	}}
}

func TestNewInput(t *testing.T) {
	prov, sbom := attestStatements(t, testMaterials(), 3, 2)
	other := json.RawMessage(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"` +
		strings.Repeat("0", 64) + `"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{}}`)
	cdx := json.RawMessage(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"` +
		testDigest[7:] + `"}}],"predicateType":"https://cyclonedx.org/bom","predicate":{}}`)
	in, err := NewInput(verifiedReport(), ReportOptions{BuilderID: testBuilder, KeyID: "SHA256:abc",
		Statements: []json.RawMessage{prov, sbom, other, cdx, json.RawMessage(`not json`)},
		Snapshot:   SnapshotFromSpec(snapshotSpec()), Tests: []TestResult{{Name: "e2e", Result: TestSuccess}}})
	if err != nil {
		t.Fatal(err)
	}
	if in.Image.Ref != testImage+"@"+testDigest || in.Image.Digest != testDigest || in.Kiln.Component != "greet" {
		t.Errorf("image %+v, component %q", in.Image, in.Kiln.Component)
	}
	if in.Image.Source == nil || in.Image.Source.Git.Revision != testCommit {
		t.Errorf("source from the snapshot: %+v", in.Image.Source)
	}
	if !in.Kiln.PublicKeyVerified || len(in.Image.Signatures) != 1 || in.Image.Signatures[0].KeyID != "SHA256:abc" {
		t.Errorf("signatures: %+v %v", in.Image.Signatures, in.Kiln.PublicKeyVerified)
	}
	if len(in.Image.Attestations) != 2 || string(in.Image.Attestations[0].Statement) != string(prov) {
		t.Errorf("only the two verified statements go in, got %d", len(in.Image.Attestations))
	}
	wantErrs := []string{"attestation layer 2 (https://cyclonedx.org/bom): attestation signature invalid",
		"statement 2 (https://slsa.dev/provenance/v1) left out: its subject is not",
		"statement 3 (https://cyclonedx.org/bom) left out: no verified attestation layer",
		"statement 4 left out"}
	if len(in.Kiln.VerifyErrors) != len(wantErrs) {
		t.Fatalf("verify errors: %q", in.Kiln.VerifyErrors)
	}
	for i, w := range wantErrs {
		if !strings.Contains(in.Kiln.VerifyErrors[i], w) {
			t.Errorf("verify error %d = %q, want %q", i, in.Kiln.VerifyErrors[i], w)
		}
	}
}

func TestNewInputNoReport(t *testing.T) {
	if _, err := NewInput(nil, ReportOptions{}); err == nil {
		t.Fatal("want an error")
	}
}

func TestPinnedRef(t *testing.T) {
	for ref, want := range map[string]string{
		"host:5000/team/greet:v1":         "host:5000/team/greet@sha256:1",
		"host:5000/team/greet":            "host:5000/team/greet@sha256:1",
		"host/team/greet@sha256:1":        "host/team/greet@sha256:1",
		"host/team/greet:v1@sha256:1":     "host/team/greet@sha256:1",
		"localhost:5000/greet@sha256:old": "localhost:5000/greet@sha256:1",
	} {
		if got := pinnedRef(ref, "sha256:1"); got != want {
			t.Errorf("pinnedRef(%q) = %q, want %q", ref, got, want)
		}
	}
}

// TestAttestEvidencePasses evaluates what internal/attest makes today (not
// the fixture) through NewInput: Kiln's own evidence must satisfy Kiln's
// own rules, all collections.
func TestAttestEvidencePasses(t *testing.T) {
	m := testMaterials()
	prov, sbom := attestStatements(t, m, 5, 3)
	rep := verifiedReport()
	rep.Attestations, rep.Error, rep.Verified = rep.Attestations[:2], "", true
	in, err := NewInput(rep, ReportOptions{BuilderID: testBuilder, Statements: []json.RawMessage{prov, sbom},
		Snapshot: SnapshotFromSpec(snapshotSpec()), Tests: []TestResult{{Name: "e2e", Result: TestSuccess}}})
	if err != nil {
		t.Fatal(err)
	}
	res := evalT(t, compileT(t, loadSpec(t, "policy.yaml")), in)
	if len(res.Violations)+len(res.Warnings) > 0 {
		t.Fatalf("violations %+v\nwarnings %+v", res.Violations, res.Warnings)
	}
	if n := len(res.Successes); n != len(compileT(t, loadSpec(t, "policy.yaml")).Rules()) {
		t.Errorf("%d successes", n)
	}

	// An unpinned step image and a host step, as attest records them.
	m.Steps = append(m.Steps, attest.StepImage{Task: "x", Step: "y", Image: "alpine:3"}, attest.StepImage{Task: "x", Step: "z", Image: "host"})
	prov, _ = attestStatements(t, m, 1, 0)
	in.Image.Attestations[0].Statement = prov
	res = evalT(t, compileT(t, loadSpec(t, "policy.yaml")), in)
	if got := codes(res.Violations); !slices.Equal(got, []string{"builder.isolated_steps"}) {
		t.Errorf("violations %v", got)
	}
	if got := codes(res.Warnings); !slices.Equal(got, []string{"step_image.pinned"}) {
		t.Errorf("warnings %v", got)
	}
}
