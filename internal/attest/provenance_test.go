package attest

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

var testArtifact = Artifact{Name: "kiln.example.com/team/greet", Digest: "sha256:" + hex64('f')}

func TestProvenanceIsValidSLSAv1(t *testing.T) {
	st, err := Provenance(testProvenanceInput(testArtifact))
	must(t, err)
	raw, err := json.Marshal(st)
	must(t, err)

	// The in-toto reference implementation accepts it.
	var pb intoto.Statement
	must(t, protojson.Unmarshal(raw, &pb))
	must(t, pb.Validate())
	if pb.GetPredicateType() != PredicateSLSA || pb.GetType() != StatementType {
		t.Fatalf("statement types = %q, %q", pb.GetType(), pb.GetPredicateType())
	}
	predicate, err := protojson.Marshal(pb.GetPredicate())
	must(t, err)
	var prov slsa.Provenance
	must(t, protojson.Unmarshal(predicate, &prov))
	must(t, prov.Validate())

	bd, rd := prov.GetBuildDefinition(), prov.GetRunDetails()
	check := func(what string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	check("subject digest", pb.GetSubject()[0].GetDigest()["sha256"], hex64('f'))
	check("subject name", pb.GetSubject()[0].GetName(), testArtifact.Name)
	check("buildType", bd.GetBuildType(), BuildType)
	ext := bd.GetExternalParameters().AsMap()
	check("source.uri", ext["source"].(map[string]any)["uri"], "git+https://git.example.com/team/greet.git")
	check("source.commit", ext["source"].(map[string]any)["commit"], testCommit)
	check("pipeline.digest", ext["pipeline"].(map[string]any)["digest"], "sha256:"+hex64('a'))
	check("params", ext["params"].(map[string]any)["GOFLAGS"], "-trimpath")
	check("internal.component", bd.GetInternalParameters().AsMap()["component"], "greet")
	check("builder id", rd.GetBuilder().GetId(), testBuilder)
	check("invocationId", rd.GetMetadata().GetInvocationId(), "greet-7")
	check("finishedOn", rd.GetMetadata().GetFinishedOn().AsTime().Format("15:04:05"), "10:01:30")
	check("log byproduct", rd.GetByproducts()[0].GetDigest()["sha256"], hex64('e'))

	deps := bd.GetResolvedDependencies()
	uris := make([]string, len(deps))
	for i, d := range deps {
		uris[i] = d.GetUri()
	}
	want := []string{
		"git+https://git.example.com/team/greet.git@" + testCommit,
		"kiln:pipeline/repository:.kiln/pipeline.yaml",
		"oci://docker.io/library/golang:1.26", // two steps, one image
		"kiln:host",
		"oci://kiln.example.com/team/lib",
		"https://dl.example.com/tool-1.0.tgz",
	}
	check("resolvedDependencies", strings.Join(uris, " "), strings.Join(want, " "))
	check("source gitCommit", deps[0].GetDigest()["gitCommit"], testCommit)
	check("source gitTree", deps[0].GetDigest()["gitTree"], testTree)
	check("image digest", deps[2].GetDigest()["sha256"], hex64('b'))
	check("prefetched digest", deps[5].GetDigest()["sha256"], hex64('d'))
}

func TestProvenanceOfTrivialBuildIsSmall(t *testing.T) {
	st, err := Provenance(ProvenanceInput{
		Artifact: testArtifact, BuilderID: testBuilder, BuildName: "greet-1",
		Materials: Materials{
			Source:   Source{URL: "https://git.example.com/team/greet.git", Commit: testCommit},
			Pipeline: Pipeline{Source: "inline", Digest: hex64('a')},
			Steps:    []StepImage{{Task: "t", Step: "s", Image: "alpine:3", Digest: "sha256:" + hex64('b')}},
		},
	})
	must(t, err)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	must(t, enc.Encode(st))
	if n := strings.Count(buf.String(), "\n"); n >= 60 {
		t.Fatalf("trivial provenance is %d lines:\n%s", n, buf.String())
	}
	t.Logf("trivial provenance, %d lines:\n%s", strings.Count(buf.String(), "\n"), buf.String())
}

func TestProvenanceRejectsIncompleteInput(t *testing.T) {
	for name, tc := range map[string]struct {
		mutate func(*ProvenanceInput)
		want   string
	}{
		"no builder":      {func(in *ProvenanceInput) { in.BuilderID = "" }, "builder id"},
		"no commit":       {func(in *ProvenanceInput) { in.Source.Commit = "" }, "source URL and commit"},
		"short commit":    {func(in *ProvenanceInput) { in.Source.Commit = "abc123" }, "gitCommit"},
		"bad digest":      {func(in *ProvenanceInput) { in.Artifact.Digest = "sha256:xyz" }, "not hexadecimal"},
		"bad step digest": {func(in *ProvenanceInput) { in.Steps[0].Digest = "sha256:" + hex64('b')[:10] }, "step build/compile"},
		"bad prefetch":    {func(in *ProvenanceInput) { in.Prefetched[0].SHA256 = "" }, "prefetched"},
	} {
		t.Run(name, func(t *testing.T) {
			in := testProvenanceInput(testArtifact)
			tc.mutate(&in)
			_, err := Provenance(in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}
