package attest

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kinds of verification failure; test with errors.Is. The error's text is
// the precise reason.
var (
	ErrNoSignature          = errors.New("no signature")
	ErrSignatureInvalid     = errors.New("signature invalid")
	ErrSignedDigest         = errors.New("signature names another digest")
	ErrAttestationSignature = errors.New("attestation signature invalid")
	ErrSubjectMismatch      = errors.New("subject digest does not match")
	ErrNoProvenance         = errors.New("no provenance")
	ErrBuilderMismatch      = errors.New("unexpected builder")
	ErrNoSource             = errors.New("provenance names no git source")
	ErrNoSBOM               = errors.New("no SBOM")
	ErrSBOMMismatch         = errors.New("plain SBOM differs from the attested one")
)

// Failure is a verification error: Kind (one of the Err values above) and a
// precise message.
type Failure struct {
	Kind error
	Msg  string
}

func (f *Failure) Error() string { return f.Msg }
func (f *Failure) Unwrap() error { return f.Kind }

func failure(kind error, format string, args ...any) error {
	return &Failure{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// Report is what Verify found; it is filled as far as verification got,
// also when it fails. It encodes as JSON for `kiln verify -o json`.
type Report struct {
	Reference    string              `json:"reference"`
	Digest       string              `json:"digest,omitempty"`
	Verified     bool                `json:"verified"`
	Error        string              `json:"error,omitempty"`
	Signatures   int                 `json:"signatures"` // valid .sig layers
	Attestations []AttestationResult `json:"attestations,omitempty"`
	Provenance   *ProvenanceSummary  `json:"provenance,omitempty"`
	SBOM         *SBOMSummary        `json:"sbom,omitempty"`
}

// AttestationResult is the outcome for one .att layer.
type AttestationResult struct {
	Layer int `json:"layer"`
	// PredicateType is the signed one when Verified, else the (unsigned)
	// layer annotation.
	PredicateType string `json:"predicateType"`
	Verified      bool   `json:"verified"`
	Error         string `json:"error,omitempty"`
}

// ProvenanceSummary is the verified provenance, in short.
type ProvenanceSummary struct {
	BuilderID    string     `json:"builderId"`
	BuildType    string     `json:"buildType"`
	SourceURI    string     `json:"sourceUri"`
	Ref          string     `json:"ref,omitempty"`
	Commit       string     `json:"commit"`
	InvocationID string     `json:"invocationId,omitempty"`
	FinishedOn   *time.Time `json:"finishedOn,omitempty"`
}

// SBOMSummary is the verified SBOM, in short.
type SBOMSummary struct {
	SPDXVersion string `json:"spdxVersion"`
	Name        string `json:"name"`
	Packages    int    `json:"packages"`
	Files       int    `json:"files"`
	// PlainSBOM is the digest of the .sbom layer, when there is one (it
	// matched the attested SBOM byte for byte).
	PlainSBOM string `json:"plainSbom,omitempty"`
}

// Summary is the report for people, one line per check.
func (r *Report) Summary() []string {
	out := []string{fmt.Sprintf("artifact %s", r.Reference)}
	if r.Digest != "" {
		out[0] += " (" + r.Digest + ")"
	}
	if r.Signatures > 0 {
		out = append(out, fmt.Sprintf("ok   signature: %d valid cosign signature(s)", r.Signatures))
	}
	for _, a := range r.Attestations {
		state := "ok  "
		if !a.Verified {
			state = "FAIL"
		}
		out = append(out, strings.TrimSpace(fmt.Sprintf("%s attestation %d: %s %s", state, a.Layer, a.PredicateType, a.Error)))
	}
	if p := r.Provenance; p != nil {
		out = append(out, fmt.Sprintf("ok   provenance: built by %s from %s at %s", p.BuilderID, p.SourceURI, p.Commit))
	}
	if s := r.SBOM; s != nil {
		out = append(out, fmt.Sprintf("ok   sbom: %s, %d packages, %d files", s.SPDXVersion, s.Packages, s.Files))
	}
	if r.Verified {
		return append(out, "verified")
	}
	return append(out, "NOT VERIFIED: "+r.Error)
}
