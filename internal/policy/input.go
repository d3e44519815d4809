package policy

import (
	"encoding/json"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/oci"
)

// Input is the document rules read as `input`, for one artifact. It is
// shaped like Conforma's input so that its rules port easily; Kiln adds
// snapshot, tests and kiln. Fill it directly, or build it from a
// verification report with NewInput.
type Input struct {
	Image    Image        `json:"image"`
	Snapshot Snapshot     `json:"snapshot"`
	Tests    []TestResult `json:"tests"`
	Kiln     Kiln         `json:"kiln"`
}

// Image is the artifact evaluated: input.image.
type Image struct {
	// Ref is the image pinned by digest, "<repository>@sha256:<hex>".
	Ref string `json:"ref"`
	// Digest is the manifest digest, "sha256:<hex>".
	Digest string `json:"digest"`
	// Source is the code the snapshot says the image was built from.
	Source *Source `json:"source,omitempty"`
	// Signatures are the image signatures that verified.
	Signatures []Signature `json:"signatures"`
	// Attestations are the attestations that verified; nothing else may go
	// here. The same list is also input.attestations, where current
	// Conforma rules look for it.
	Attestations []Attestation `json:"attestations"`
}

// Source is a component's code, as in a Snapshot.
type Source struct {
	Git *GitSource `json:"git,omitempty"`
}

// GitSource is a repository and, optionally, an exact commit.
type GitSource struct {
	URL      string `json:"url"`
	Revision string `json:"revision,omitempty"`
}

// Signature is one verified signature.
type Signature struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"`
}

// Attestation is one verified in-toto statement and its signatures.
type Attestation struct {
	// Statement is the in-toto statement JSON (the DSSE payload), e.g.
	// {"_type": …, "subject": […], "predicateType": …, "predicate": {…}}.
	Statement  json.RawMessage `json:"statement"`
	Signatures []Signature     `json:"signatures"`
}

// Snapshot is input.snapshot: the Snapshot being released.
type Snapshot struct {
	Application string              `json:"application,omitempty"`
	Components  []SnapshotComponent `json:"components"`
}

// SnapshotComponent is one image of the Snapshot.
type SnapshotComponent struct {
	Name           string  `json:"name"`
	ContainerImage string  `json:"containerImage"`
	Source         *Source `json:"source,omitempty"`
}

// Integration test results.
const (
	TestSuccess = "SUCCESS"
	TestFailure = "FAILURE"
	TestWarning = "WARNING"
	TestSkipped = "SKIPPED"
	TestError   = "ERROR"
)

// TestResult is the outcome of one IntegrationTestScenario for the
// snapshot: input.tests[_].
type TestResult struct {
	Name string `json:"name"`
	// Result is SUCCESS, FAILURE, WARNING, SKIPPED or ERROR.
	Result string `json:"result"`
	// Optional scenarios do not block a release (their failures warn).
	Optional bool `json:"optional,omitempty"`
}

// Kiln is input.kiln: what Kiln's own verification found.
type Kiln struct {
	// Component is the snapshot component's name (for reports).
	Component string `json:"component,omitempty"`
	// BuilderID is the builder id of this Kiln installation.
	BuilderID string `json:"builderId"`
	// PublicKeyVerified is true when an image signature verified with the
	// policy's public key.
	PublicKeyVerified bool `json:"publicKeyVerified"`
	// VerifyErrors are the verification failures (rejected layers, missing
	// evidence).
	VerifyErrors []string `json:"verifyErrors"`
}

// SnapshotFromSpec converts a Snapshot's spec to input.snapshot.
func SnapshotFromSpec(spec v1alpha1.SnapshotSpec) Snapshot {
	out := Snapshot{Application: spec.Application, Components: make([]SnapshotComponent, 0, len(spec.Components))}
	for _, c := range spec.Components {
		sc := SnapshotComponent{Name: c.Name, ContainerImage: c.ContainerImage}
		if c.Source != nil && c.Source.Git != nil {
			sc.Source = &Source{Git: &GitSource{URL: c.Source.Git.URL, Revision: c.Source.Git.Revision}}
		}
		out.Components = append(out.Components, sc)
	}
	return out
}

// component returns the snapshot component whose image has digest, if any.
func (s Snapshot) component(digest string) (SnapshotComponent, bool) {
	if digest == "" {
		return SnapshotComponent{}, false
	}
	for _, c := range s.Components {
		if _, d, ok := oci.SplitDigest(c.ContainerImage); ok && d == digest {
			return c, true
		}
	}
	return SnapshotComponent{}, false
}

// componentName is the name reports use for in.
func (in Input) componentName() string {
	if in.Kiln.Component != "" {
		return in.Kiln.Component
	}
	if c, ok := in.Snapshot.component(in.Image.Digest); ok {
		return c.Name
	}
	if in.Image.Ref != "" {
		return in.Image.Ref
	}
	return in.Image.Digest
}
