package attest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/oci"
	"github.com/kilnbuild/kiln/internal/oci/ocitest"
)

const (
	testToken   = "test-token"
	testBuilder = "https://kiln.test/builder/v1"
)

// testRegistry is Kiln's embedded registry behind a TLS test server.
type testRegistry struct {
	host   string
	rem    oci.Remote
	caFile string // the server certificate, PEM, for cosign's SSL_CERT_FILE
}

func startRegistry(t testing.TB) *testRegistry {
	t.Helper()
	return startRegistryWith(t, true)
}

// startRegistryWith chooses the storage: noSync skips fsync.
func startRegistryWith(t testing.TB, noSync bool) *testRegistry {
	t.Helper()
	s := ocitest.StartRegistry(t, testToken, noSync)
	return &testRegistry{host: s.Host, rem: s.Remote, caFile: s.CAFile}
}

// pushArtifact pushes files as an artifact under repo:tag and returns the
// digest reference.
func (tr *testRegistry) pushArtifact(t testing.TB, repoTag string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, files)
	d, err := oci.PushDirectory(context.Background(), tr.host+"/"+repoTag, dir, oci.PushOptions{Remote: tr.rem})
	must(t, err)
	repo, _, _ := strings.Cut(repoTag, ":")
	return tr.host + "/" + repo + "@" + d.Digest
}

func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(content), 0o644))
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newSigner(t testing.TB) *Signer {
	t.Helper()
	s, err := LoadOrCreateKey(filepath.Join(t.TempDir(), "cosign.key"))
	must(t, err)
	return s
}

// splitRef splits "repo@sha256:…".
func splitRef(ref string) Artifact {
	repo, digest, _ := strings.Cut(ref, "@")
	return Artifact{Name: repo, Digest: digest}
}

const (
	testCommit = "0123456789abcdef0123456789abcdef01234567"
	testTree   = "89abcdef0123456789abcdef0123456789abcdef"
)

func hex64(c byte) string { return strings.Repeat(string(c), 64) }

func testMaterials() Materials {
	return Materials{
		Source:   Source{URL: "https://git.example.com/team/greet.git", Ref: "refs/heads/main", Commit: testCommit, TreeHash: testTree},
		Pipeline: Pipeline{Source: "repository:.kiln/pipeline.yaml", Digest: "sha256:" + hex64('a')},
		Steps: []StepImage{
			{Task: "build", Step: "compile", Image: "docker.io/library/golang:1.26", Digest: "sha256:" + hex64('b')},
			{Task: "build", Step: "test", Image: "docker.io/library/golang:1.26", Digest: "sha256:" + hex64('b')},
			{Task: "package", Step: "tar", Image: "host"},
		},
		Dependencies: []Artifact{{Name: "kiln.example.com/team/lib", Digest: "sha256:" + hex64('c')}},
		Prefetched:   []File{{Name: "tool.tgz", URL: "https://dl.example.com/tool-1.0.tgz", SHA256: hex64('d')}},
	}
}

func testProvenanceInput(a Artifact) ProvenanceInput {
	return ProvenanceInput{
		Artifact: a, Materials: testMaterials(),
		Params:    map[string]string{"GOFLAGS": "-trimpath"},
		Namespace: "team", Component: "greet",
		BuilderID: testBuilder, BuilderVersion: map[string]string{"kiln": "v0.0.0-test"},
		BuildName: "greet-7",
		StartedOn: time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC), FinishedOn: time.Date(2026, 11, 1, 10, 1, 30, 0, time.UTC),
		Log: &File{Name: "build.log", SHA256: hex64('e')},
	}
}

// testEvidence builds provenance and SBOM for an artifact of files.
func testEvidence(t testing.TB, a Artifact, files map[string]string) Evidence {
	t.Helper()
	prov, err := Provenance(testProvenanceInput(a))
	must(t, err)
	out := t.TempDir()
	writeTree(t, out, files)
	doc, err := SBOM(SBOMInput{Artifact: a, Materials: testMaterials(), OutputDir: out,
		Created: time.Date(2026, 11, 1, 10, 1, 30, 0, time.UTC), Tool: "kiln-test"})
	must(t, err)
	return Evidence{Provenance: prov, SBOM: doc}
}

// publishFor pushes an artifact and its evidence, signed by s.
func publishFor(t testing.TB, tr *testRegistry, s *Signer, repoTag string) (string, *Published) {
	t.Helper()
	files := map[string]string{"bin/greet": "#!/bin/sh\necho hello\n", "README": fmt.Sprintf("greet %s\n", repoTag)}
	ref := tr.pushArtifact(t, repoTag, files)
	pub, err := Publish(context.Background(), ref, s, testEvidence(t, splitRef(ref), files), tr.rem)
	must(t, err)
	return ref, pub
}
