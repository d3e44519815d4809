package trace

import (
	"context"
	"crypto"
	"encoding/json"
	"fmt"

	"github.com/kilnbuild/kiln/internal/attest"
	"github.com/kilnbuild/kiln/internal/lineage"
)

// statementReader turns the attestations of one artifact into evidence.
type statementReader struct {
	ns           string
	repo, digest string
	// key verifies the envelopes (nil: none is verified); keyID names it.
	key   crypto.PublicKey
	keyID string
	// builderID, when set, is the builder id a provenance must name to be
	// trusted (Kiln's own builds).
	builderID string
	// kilnBuilds: provenance of Kiln's buildType names a Build of ns by its
	// invocation id (false for imports: those are builds elsewhere).
	kilnBuilds bool
	detail     string
}

func (s statementReader) subject() lineage.NodeRef {
	return nodes{ns: s.ns}.artifact(s.repo, s.digest)
}

// evidence opens each envelope; one that cannot be read at all gives no
// edges (there is nothing to show), one that does not verify gives
// unverified edges.
func (s statementReader) evidence(ctx context.Context, envs []attest.Envelope) []lineage.Evidence {
	var out []lineage.Evidence
	for _, env := range envs {
		o, err := attest.OpenEnvelope(ctx, env.DSSE, s.digest, s.key)
		if err != nil {
			continue
		}
		if ev, ok := s.statement(o); ok {
			out = append(out, ev)
		}
	}
	return out
}

func (s statementReader) statement(o *attest.Opened) (lineage.Evidence, bool) {
	ev := lineage.Evidence{Trust: lineage.TrustVerified, KeyID: s.keyID, Detail: s.detail}
	if o.Err != nil {
		ev.Trust, ev.KeyID, ev.Reason = lineage.TrustUnverified, "", o.Err.Error()
	}
	n, subj := nodes{ns: s.ns}, []lineage.NodeRef{s.subject()}
	switch o.PredicateType {
	case attest.PredicateSLSA:
		var p attest.SLSAProvenance
		if err := json.Unmarshal(o.Predicate, &p); err != nil {
			return ev, false
		}
		if id := p.RunDetails.Builder.ID; ev.Trust == lineage.TrustVerified && s.builderID != "" && id != s.builderID {
			ev.Trust, ev.KeyID, ev.Reason = lineage.TrustUnverified, "", fmt.Sprintf("provenance builder id %q is not the expected %q", id, s.builderID)
		}
		ev.Origin, ev.Edges = lineage.OriginProvenance, n.provenanceEdges(&p, s.buildNode(&p), subj, s.repo)
	case attest.PredicateSPDX:
		pkgs, err := spdxPackages(o.Predicate)
		if err != nil {
			return ev, false
		}
		ev.Origin, ev.Edges = lineage.OriginSBOM, n.packageEdges(pkgs, subj)
	case attest.PredicateCycloneDX:
		pkgs, err := cycloneDXPackages(o.Predicate)
		if err != nil {
			return ev, false
		}
		ev.Origin, ev.Edges = lineage.OriginSBOM, n.packageEdges(pkgs, subj)
	default:
		return ev, false
	}
	return ev, true
}

// buildNode is the build a provenance describes: a Kiln Build of the
// namespace, or a build elsewhere named by builder and invocation.
func (s statementReader) buildNode(p *attest.SLSAProvenance) lineage.NodeRef {
	inv := ""
	if p.RunDetails.Metadata != nil {
		inv = p.RunDetails.Metadata.InvocationID
	}
	ip := p.BuildDefinition.InternalParameters
	if s.kilnBuilds && p.BuildDefinition.BuildType == attest.BuildType && ip != nil && ip.Namespace == s.ns && nameRE.MatchString(inv) {
		return lineage.NodeRef{Kind: lineage.KindBuild, Namespace: s.ns, Key: inv}
	}
	if inv == "" {
		inv = s.digest
	}
	id := p.RunDetails.Builder.ID
	return lineage.NodeRef{Kind: lineage.KindBuild, Namespace: s.ns, Key: id + "#" + inv, Label: inv + " (built by " + id + ")",
		Attrs: map[string]string{"builder": id, "external": "true"}}
}
