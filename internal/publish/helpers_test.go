package publish

import (
	"context"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/kilnbuild/kiln/internal/attest"
	"github.com/kilnbuild/kiln/internal/oci"
	"github.com/kilnbuild/kiln/internal/oci/ocitest"
	"github.com/kilnbuild/kiln/internal/tlstest"
)

const (
	testToken   = "test-token"
	testBuilder = "https://kiln.test/builder/v1"
	testCommit  = "0123456789abcdef0123456789abcdef01234567"
)

// testRegistry is a registry behind a TLS test server.
type testRegistry struct {
	host string
	rem  oci.Remote
}

func (r *testRegistry) ref(s string) string { return r.host + "/" + s }

// startSource is Kiln's embedded registry (with the referrers API and
// token auth), where builds push.
func startSource(t testing.TB) *testRegistry {
	t.Helper()
	s := ocitest.StartRegistry(t, testToken, true)
	return &testRegistry{host: s.Host, rem: s.Remote}
}

// startProduction is go-containerregistry's registry, the "production"
// destination; without the referrers API, referrers go through the tag
// schema fallback.
func startProduction(t testing.TB, referrersAPI bool) *testRegistry {
	t.Helper()
	s := ocitest.Serve(t, registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(referrersAPI)))
	return &testRegistry{host: s.Host, rem: s.Remote}
}

// caFile is the test servers' certificate as PEM (cosign's SSL_CERT_FILE).
func caFile(t testing.TB) string { return tlstest.CAFile(t) }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		if target, ok := strings.CutPrefix(content, "->"); ok {
			must(t, os.Symlink(target, p))
			continue
		}
		must(t, os.WriteFile(p, []byte(content), 0o644))
	}
}

func newSigner(t testing.TB) *attest.Signer {
	t.Helper()
	s, err := attest.LoadOrCreateKey(filepath.Join(t.TempDir(), "cosign.key"))
	must(t, err)
	return s
}

// pushFiles pushes files as an artifact to repoTag and returns its digest
// reference.
func pushFiles(t testing.TB, r *testRegistry, repoTag string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, files)
	d, err := oci.PushDirectory(context.Background(), r.ref(repoTag), dir, oci.PushOptions{Remote: r.rem})
	must(t, err)
	repo, _, _ := strings.Cut(repoTag, ":")
	return r.ref(repo) + "@" + d.Digest
}

// pushSigned pushes an artifact and the evidence a build publishes for it
// (cosign signature, SLSA provenance and SPDX SBOM attestations, plain
// SBOM), signed by the builder key s.
func pushSigned(t testing.TB, r *testRegistry, s *attest.Signer, repoTag string) string {
	t.Helper()
	files := map[string]string{"bin/greet": "#!/bin/sh\necho hello\n", "README": "greet " + repoTag + "\n"}
	ref := pushFiles(t, r, repoTag, files)
	repo, digest, _ := strings.Cut(ref, "@")
	art := attest.Artifact{Name: repo, Digest: digest}
	mat := attest.Materials{
		Source:   attest.Source{URL: "https://git.example.com/team/greet.git", Commit: testCommit},
		Pipeline: attest.Pipeline{Source: "inline", Digest: "sha256:" + strings.Repeat("a", 64)},
	}
	prov, err := attest.Provenance(attest.ProvenanceInput{Artifact: art, Materials: mat, BuilderID: testBuilder,
		Namespace: "team", Component: "greet", BuildName: "greet-1"})
	must(t, err)
	out := t.TempDir()
	writeTree(t, out, files)
	doc, err := attest.SBOM(attest.SBOMInput{Artifact: art, Materials: mat, OutputDir: out, Tool: "kiln-test",
		Created: time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)})
	must(t, err)
	_, err = attest.Publish(context.Background(), ref, s, attest.Evidence{Provenance: prov, SBOM: doc}, r.rem)
	must(t, err)
	return ref
}
