package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/attest"
	"github.com/kilnbuild/kiln/internal/golden"
)

const (
	testBuilder  = "https://kiln.example.com/builder/v1"
	testImage    = "kiln.example.com/team/greet"
	testDigest   = "sha256:3cae1f3a5cde86a0d5a1a3d7d2fb8a8f8d5b8a8b0f1c9e6a4bb1b1bb2c6f4a10"
	testCommit   = "0123456789abcdef0123456789abcdef01234567"
	testRepo     = "https://git.example.com/team/greet.git"
	testPipeline = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
)

// testMaterials is a realistic build: four step images, a dependency, a
// prefetched file.
func testMaterials() attest.Materials {
	img := func(task, step, image string, b byte) attest.StepImage {
		return attest.StepImage{Task: task, Step: step, Image: image, Digest: "sha256:" + strings.Repeat(fmt.Sprintf("%02x", b), 32)}
	}
	return attest.Materials{
		Source:   attest.Source{URL: testRepo, Ref: "refs/heads/main", Commit: testCommit, TreeHash: "89abcdef0123456789abcdef0123456789abcdef"},
		Pipeline: attest.Pipeline{Source: "repository:.kiln/pipeline.yaml", Digest: testPipeline},
		Steps: []attest.StepImage{
			img("clone", "fetch", "kiln.example.com/catalog/git:2.45", 0xb1),
			img("build", "compile", "docker.io/library/golang:1.26", 0xb2),
			img("test", "unit", "docker.io/library/golang:1.26", 0xb2),
			img("scan", "sast", "kiln.example.com/catalog/gosec:2", 0xb3),
			img("push", "assemble", "kiln.example.com/catalog/assemble:1", 0xb4),
		},
		Dependencies: []attest.Artifact{{Name: "kiln.example.com/team/base", Digest: "sha256:" + strings.Repeat("c1", 32)}},
		Prefetched:   []attest.File{{Name: "tzdata.tar.gz", URL: "https://example.com/tzdata.tar.gz", SHA256: strings.Repeat("d1", 32)}},
	}
}

// attestStatements makes a provenance and an SPDX SBOM with
// internal/attest, as a build would: nFiles output files and nModules Go
// requirements.
func attestStatements(t testing.TB, m attest.Materials, nFiles, nModules int) (prov, sbom json.RawMessage) {
	t.Helper()
	art := attest.Artifact{Name: testImage, Digest: testDigest}
	start := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	st, err := attest.Provenance(attest.ProvenanceInput{Artifact: art, Materials: m, Namespace: "team", Component: "greet",
		BuilderID: testBuilder, BuilderVersion: map[string]string{"kiln": "v0.4.0"}, BuildName: "greet-7",
		StartedOn: start, FinishedOn: start.Add(94 * time.Second), Log: &attest.File{Name: "build.log", SHA256: strings.Repeat("e1", 32)}})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := attest.SBOM(attest.SBOMInput{Artifact: art, Materials: m, OutputDir: outputDir(t, nFiles),
		SourceDir: sourceDir(t, nModules), Created: start.Add(95 * time.Second), Tool: "kiln-v0.4.0"})
	if err != nil {
		t.Fatal(err)
	}
	spdx, err := attest.MarshalSPDX(doc)
	if err != nil {
		t.Fatal(err)
	}
	sst, err := attest.NewStatement(art, attest.PredicateSPDX, json.RawMessage(spdx))
	if err != nil {
		t.Fatal(err)
	}
	return mustJSON(t, st), mustJSON(t, sst)
}

func outputDir(t testing.TB, n int) string {
	dir := t.TempDir()
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("usr/share/greet/f%03d.txt", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.Repeat("x", i+1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func sourceDir(t testing.TB, n int) string {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("module example.com/greet\n\ngo 1.26\n\nrequire (\n")
	for i := range n {
		fmt.Fprintf(&b, "\texample.com/dep%03d v1.%d.0\n", i, i)
	}
	b.WriteString(")\n")
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func mustJSON(t testing.TB, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// inputFor is a passing input around the two statements.
func inputFor(prov, sbom json.RawMessage) Input {
	sig := []Signature{{KeyID: "kiln", Sig: "MEUCIQ…"}}
	return Input{
		Image: Image{Ref: testImage + "@" + testDigest, Digest: testDigest,
			Source:       &Source{Git: &GitSource{URL: testRepo, Revision: testCommit}},
			Signatures:   sig,
			Attestations: []Attestation{{Statement: prov, Signatures: sig}, {Statement: sbom, Signatures: sig}}},
		Snapshot: Snapshot{Application: "hello", Components: []SnapshotComponent{
			{Name: "greet", ContainerImage: testImage + "@" + testDigest, Source: &Source{Git: &GitSource{URL: testRepo, Revision: testCommit}}},
			{Name: "web", ContainerImage: "kiln.example.com/team/web@sha256:" + strings.Repeat("f0", 32),
				Source: &Source{Git: &GitSource{URL: "https://git.example.com/team/web.git", Revision: strings.Repeat("ab", 20)}}},
		}},
		Tests: []TestResult{{Name: "e2e", Result: TestSuccess}, {Name: "lint", Result: TestSuccess}, {Name: "perf", Result: TestSuccess, Optional: true}},
		Kiln:  Kiln{Component: "greet", BuilderID: testBuilder, PublicKeyVerified: true, VerifyErrors: []string{}},
	}
}

// TestUpdateFixture regenerates testdata/input.json with -update.
func TestUpdateFixture(t *testing.T) {
	if !golden.Updating() {
		t.Skip("run with -update to regenerate testdata/input.json")
	}
	prov, sbom := attestStatements(t, testMaterials(), 40, 60)
	b, err := json.MarshalIndent(inputFor(prov, sbom), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("testdata/input.json", append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// loadInput reads testdata/input.json: a passing input.
func loadInput(t testing.TB) Input {
	t.Helper()
	b, err := os.ReadFile("testdata/input.json")
	if err != nil {
		t.Fatal(err)
	}
	var in Input
	if err := json.Unmarshal(b, &in); err != nil {
		t.Fatal(err)
	}
	return in
}

// loadSpec reads a PolicySpec from testdata.
func loadSpec(t testing.TB, name string) v1alpha1.PolicySpec {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var spec v1alpha1.PolicySpec
	if err := yaml.UnmarshalStrict(b, &spec); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return spec
}

// fixedNow is the evaluation time of the tests.
func fixedNow() time.Time { return time.Date(2026, 11, 15, 12, 0, 0, 0, time.UTC) }

func compileT(t testing.TB, spec v1alpha1.PolicySpec) *Engine {
	t.Helper()
	eng, err := Compile(context.Background(), spec, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

func evalT(t testing.TB, eng *Engine, in Input) ComponentResult {
	t.Helper()
	res, err := eng.Evaluate(context.Background(), "", in)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func codes(rs []Result) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.Code)
	}
	return out
}
