package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/kilnbuild/kiln/internal/attest"
)

// ReportOptions are what NewInput needs besides the verification report.
type ReportOptions struct {
	// Component is the snapshot component's name.
	Component string
	// BuilderID is the installation's builder id (the one Verify expected).
	BuilderID string
	// KeyID is recorded on each signature (e.g. the public key's
	// fingerprint); optional.
	KeyID string
	// Statements are the in-toto statements (DSSE payloads) of the
	// attestation layers Verify accepted. attest.Report does not carry
	// them, so the caller passes them; each must match a verified layer of
	// the report (same predicateType) and name the image's digest, or it is
	// left out and reported in input.kiln.verifyErrors.
	Statements []json.RawMessage
	Snapshot   Snapshot
	Tests      []TestResult
}

// NewInput builds the policy input for the artifact attest.Verify checked.
// Only verified evidence goes in: rep.Signatures verified signatures and
// the statements that match verified layers.
func NewInput(rep *attest.Report, opts ReportOptions) (Input, error) {
	if rep == nil {
		return Input{}, errors.New("policy: no verification report")
	}
	in := Input{
		Image:    Image{Ref: pinnedRef(rep.Reference, rep.Digest), Digest: rep.Digest},
		Snapshot: opts.Snapshot,
		Tests:    opts.Tests,
		Kiln: Kiln{Component: opts.Component, BuilderID: opts.BuilderID, PublicKeyVerified: rep.Signatures > 0,
			VerifyErrors: verifyErrors(rep)},
	}
	if c, ok := opts.Snapshot.component(rep.Digest); ok {
		in.Image.Source = c.Source
		if in.Kiln.Component == "" {
			in.Kiln.Component = c.Name
		}
	}
	sig := Signature{KeyID: opts.KeyID}
	for range rep.Signatures {
		in.Image.Signatures = append(in.Image.Signatures, sig)
	}
	atts, notes := verifiedStatements(rep, opts.Statements)
	for _, st := range atts {
		in.Image.Attestations = append(in.Image.Attestations, Attestation{Statement: st, Signatures: []Signature{sig}})
	}
	in.Kiln.VerifyErrors = append(in.Kiln.VerifyErrors, notes...)
	return in, nil
}

// pinnedRef writes ref as "<repository>@<digest>".
func pinnedRef(ref, digest string) string {
	if digest == "" {
		return ref
	}
	repo, _, _ := strings.Cut(ref, "@")
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i] // a tag
	}
	return repo + "@" + digest
}

// verifyErrors are the rejected layers' errors and the report's error,
// unless that one repeats a layer's.
func verifyErrors(rep *attest.Report) []string {
	var out []string
	repeated := false
	for _, a := range rep.Attestations {
		if !a.Verified && a.Error != "" {
			out = append(out, fmt.Sprintf("attestation layer %d (%s): %s", a.Layer, a.PredicateType, a.Error))
			repeated = repeated || strings.HasSuffix(rep.Error, a.Error)
		}
	}
	if rep.Error != "" && !repeated {
		out = append(out, rep.Error)
	}
	return out
}

// statementHead is the part of a statement used to match it to a layer.
type statementHead struct {
	PredicateType string           `json:"predicateType"`
	Subject       []attest.Subject `json:"subject"`
}

// verifiedStatements keeps the statements that match a verified layer of
// rep, each layer used once; notes say why the others were left out.
func verifiedStatements(rep *attest.Report, stmts []json.RawMessage) (kept []json.RawMessage, notes []string) {
	avail := map[string]int{}
	for _, a := range rep.Attestations {
		if a.Verified {
			avail[a.PredicateType]++
		}
	}
	for i, raw := range stmts {
		var h statementHead
		switch err := json.Unmarshal(raw, &h); {
		case err != nil:
			notes = append(notes, fmt.Sprintf("statement %d left out: %v", i, err))
		case !namesDigest(h.Subject, rep.Digest):
			notes = append(notes, fmt.Sprintf("statement %d (%s) left out: its subject is not %s", i, h.PredicateType, rep.Digest))
		case avail[h.PredicateType] == 0:
			notes = append(notes, fmt.Sprintf("statement %d (%s) left out: no verified attestation layer has that type", i, h.PredicateType))
		default:
			avail[h.PredicateType]--
			kept = append(kept, raw)
		}
	}
	return kept, notes
}

func namesDigest(subjects []attest.Subject, digest string) bool {
	alg, hexDigest, ok := strings.Cut(digest, ":")
	if !ok {
		return false
	}
	for _, s := range subjects {
		if strings.EqualFold(s.Digest[alg], hexDigest) {
			return true
		}
	}
	return false
}
