package trace

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/kilnbuild/kiln/internal/attest"
	"github.com/kilnbuild/kiln/internal/lineage"
)

// kilnEvidence is what Kiln's attest package writes for an app built
// against a library, with a step image from elsewhere and a prefetched file.
func kilnEvidence(t *testing.T) (*attest.Statement, []byte, []byte) {
	t.Helper()
	art := attest.Artifact{Name: "reg.example/team/app", Digest: dg("b")}
	mat := attest.Materials{
		Source:       attest.Source{URL: "https://git.example/app.git", Commit: appSHA},
		Pipeline:     attest.Pipeline{Source: "catalog:go", Digest: dg("d")},
		Steps:        []attest.StepImage{{Task: "build", Step: "compile", Image: "docker.io/library/golang:1.26", Digest: dg("c")}, {Task: "t", Step: "s", Image: "host"}},
		Dependencies: []attest.Artifact{{Name: "reg.example/team/libfoo", Digest: dg("a")}},
		Prefetched:   []attest.File{{Name: "vendor.tar", URL: "kiln:prefetch/vendor.tar", SHA256: dg("e")}},
	}
	prov, err := attest.Provenance(attest.ProvenanceInput{Artifact: art, Materials: mat, Namespace: "team", Component: "app",
		BuilderID: "https://kiln.test/builder", BuildName: "app-1", StartedOn: time.Unix(0, 0), FinishedOn: time.Unix(1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module example.com/app\n\ngo 1.22\n\nrequire golang.org/x/net v0.1.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	in := attest.SBOMInput{Artifact: art, Materials: mat, SourceDir: src, Created: time.Unix(0, 0), Tool: "kiln-test"}
	doc, err := attest.SBOM(in)
	if err != nil {
		t.Fatal(err)
	}
	spdx, err := attest.MarshalSPDX(doc)
	if err != nil {
		t.Fatal(err)
	}
	bom, err := attest.CycloneDX(in)
	if err != nil {
		t.Fatal(err)
	}
	cdx, err := attest.MarshalCycloneDX(bom)
	if err != nil {
		t.Fatal(err)
	}
	return prov, spdx, cdx
}

func edgeStrings(edges []lineage.EdgeRef) []string {
	var out []string
	for _, e := range edges {
		out = append(out, string(e.From.Kind)+" "+e.From.Key+" -"+string(e.Kind)+"-> "+string(e.To.Kind)+" "+e.To.Key)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestKilnEvidenceBecomesEdges reads what Kiln's own generators write:
// every material of the provenance is an edge of the right kind, and the
// SBOMs give the go.mod package but none of the build inputs.
func TestKilnEvidenceBecomesEdges(t *testing.T) {
	t.Parallel()
	prov, spdx, cdx := kilnEvidence(t)
	raw, _ := json.Marshal(prov.Predicate)
	var p attest.SLSAProvenance
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	s := statementReader{ns: "team", repo: "reg.example/team/app", digest: dg("b"), kilnBuilds: true}
	got := edgeStrings(nodes{ns: "team"}.provenanceEdges(&p, s.buildNode(&p), []lineage.NodeRef{s.subject()}, s.repo))
	want := []string{
		"artifact reg.example/team/libfoo@" + dg("a") + " -input-> build app-1",
		"build app-1 -output-> artifact reg.example/team/app@" + dg("b"),
		"commit https://git.example/app.git@" + appSHA + " -source-> build app-1",
		"file " + dg("e") + " -prefetched-> build app-1",
		"image " + dg("c") + " -step-image-> build app-1",
		"pipeline " + dg("d") + " -pipeline-> build app-1",
		"source https://git.example/app.git -revision-> commit https://git.example/app.git@" + appSHA,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("provenance edges:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for name, parse := range map[string]func([]byte) ([]Package, error){"spdx": spdxPackages, "cyclonedx": cycloneDXPackages} {
		raw := map[string][]byte{"spdx": spdx, "cyclonedx": cdx}[name]
		pkgs, err := parse(raw)
		if err != nil || len(pkgs) != 1 || pkgs[0].Key != "pkg:golang/golang.org/x/net@v0.1.0" {
			t.Errorf("%s packages: %+v, %v; want only golang.org/x/net (no source, image, dependency or file)", name, pkgs, err)
		}
	}
}

// TestProvenanceOfOtherBuilders: a provenance that is not Kiln's, or names
// another namespace, gets a build node of its own, never a Kiln Build.
func TestProvenanceOfOtherBuilders(t *testing.T) {
	t.Parallel()
	p := &attest.SLSAProvenance{}
	p.BuildDefinition.BuildType = attest.BuildType
	p.BuildDefinition.InternalParameters = &attest.InternalParameters{Namespace: "victim"}
	p.RunDetails.Builder.ID = "https://ci.example/builder"
	p.RunDetails.Metadata = &attest.BuildMetadata{InvocationID: "app-1"}
	for _, s := range []statementReader{{ns: "team", digest: dg("b"), kilnBuilds: true}, {ns: "victim", digest: dg("b")}} {
		b := s.buildNode(p)
		if b.Namespace != s.ns || b.Key != "https://ci.example/builder#app-1" || b.Attrs["external"] != "true" {
			t.Errorf("reader in %s (kiln builds %v): build node %+v", s.ns, s.kilnBuilds, b)
		}
	}
}

// TestUnverifiedStatementsStillShowTheirClaims: an envelope signed by
// another key gives unverified edges saying why; one without a key too.
func TestUnverifiedStatementsStillShowTheirClaims(t *testing.T) {
	t.Parallel()
	prov, _, _ := kilnEvidence(t)
	signer, err := attest.LoadOrCreateKey(filepath.Join(t.TempDir(), "k.pem"))
	if err != nil {
		t.Fatal(err)
	}
	env := signedEnvelope(t, signer, prov)
	other, err := attest.LoadOrCreateKey(filepath.Join(t.TempDir(), "other.pem"))
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		key   any
		trust lineage.Trust
		says  string
	}{
		"right key": {signer.PublicKey(), lineage.TrustVerified, ""},
		"other key": {other.PublicKey(), lineage.TrustUnverified, "signature invalid"},
		"no key":    {nil, lineage.TrustUnverified, "no key"},
	} {
		s := statementReader{ns: "team", repo: "reg.example/team/app", digest: dg("b"), keyID: "k"}
		if c.key != nil {
			s.key = c.key
		}
		evs := s.evidence(context.Background(), []attest.Envelope{env})
		if len(evs) != 1 || evs[0].Trust != c.trust || !strings.Contains(evs[0].Reason, c.says) || len(evs[0].Edges) == 0 {
			t.Errorf("%s: %+v", name, evs)
		}
	}
	s := statementReader{ns: "team", repo: "reg.example/team/app", digest: dg("f"), key: signer.PublicKey()}
	if evs := s.evidence(context.Background(), []attest.Envelope{env}); len(evs) != 1 || !strings.Contains(evs[0].Reason, "subject") {
		t.Errorf("a statement about another artifact: %+v", evs)
	}
	if evs := s.evidence(context.Background(), []attest.Envelope{{DSSE: []byte(`{"payload":"!!"}`)}}); len(evs) != 0 {
		t.Errorf("an unreadable envelope gave evidence: %+v", evs)
	}
}

// dsseSigner signs DSSE envelopes with a Kiln signer, as Publish does.
type dsseSigner struct{ s *attest.Signer }

func (d dsseSigner) Sign(_ context.Context, data []byte) ([]byte, error) { return d.s.Sign(data) }
func (d dsseSigner) KeyID() (string, error)                              { return "", nil }

func signedEnvelope(t *testing.T, s *attest.Signer, st *attest.Statement) attest.Envelope {
	t.Helper()
	body, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	es, err := dsse.NewEnvelopeSigner(dsseSigner{s})
	if err != nil {
		t.Fatal(err)
	}
	env, err := es.SignPayload(context.Background(), attest.PayloadTypeInToto, body)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(env)
	return attest.Envelope{PredicateType: st.PredicateType, DSSE: raw}
}

// FuzzSBOMPackages: SBOMs come from attestations anyone may have written;
// reading them never panics and yields canonical purls only.
func FuzzSBOMPackages(f *testing.F) {
	f.Add([]byte(`{"packages":[{"SPDXID":"SPDXRef-Go-1","externalRefs":[{"referenceType":"purl","referenceLocator":"pkg:golang/golang.org/x/net@v0.1.0"}]}],"documentDescribes":["SPDXRef-Artifact"]}`))
	f.Add([]byte(`{"components":[{"purl":"pkg:npm/%40a/b@1.0.0","scope":"required"},{"purl":"pkg:oci/x","scope":"excluded"}]}`))
	f.Add([]byte(`{"packages":[{"SPDXID":"a","externalRefs":[{"referenceType":"purl","referenceLocator":"pkg:/"}]}],"relationships":[{"spdxElementId":"a","relationshipType":"BUILD_TOOL_OF","relatedSpdxElement":"b"}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, parse := range []func([]byte) ([]Package, error){spdxPackages, cycloneDXPackages} {
			pkgs, err := parse(raw)
			if err != nil {
				continue
			}
			for _, p := range pkgs {
				if !strings.HasPrefix(p.Key, "pkg:") || !strings.HasPrefix(p.Key, p.Base) {
					t.Fatalf("package %+v is not canonical", p)
				}
				again, err := ParsePackage(p.Key)
				if err != nil || again.Key != p.Key {
					t.Fatalf("package key %q does not parse back to itself: %+v, %v", p.Key, again, err)
				}
			}
		}
	})
}
