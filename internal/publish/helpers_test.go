package publish

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/kilnbuild/kiln/internal/attest"
	"github.com/kilnbuild/kiln/internal/oci"
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
	reg, err := oci.NewRegistry(oci.Config{
		Dir: t.TempDir(), NoSync: true, Log: slog.New(slog.DiscardHandler),
		Authorizer: oci.AuthorizerFunc(func(_ context.Context, token, _ string, _ oci.Action) error {
			if token != testToken {
				return oci.ErrUnauthenticated
			}
			return nil
		}),
	})
	must(t, err)
	host := serveTLS(t, reg)
	t.Cleanup(func() { reg.Close() })
	return &testRegistry{host: host, rem: oci.Remote{Token: testToken, RootCAs: testPool(t)}}
}

// startProduction is go-containerregistry's registry, the "production"
// destination; without the referrers API, referrers go through the tag
// schema fallback.
func startProduction(t testing.TB, referrersAPI bool) *testRegistry {
	t.Helper()
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(referrersAPI))
	return &testRegistry{host: serveTLS(t, h), rem: oci.Remote{RootCAs: testPool(t)}}
}

func serveTLS(t testing.TB, h http.Handler) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/v2/", h)
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{testCert(t)}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

var (
	certOnce sync.Once
	cert     tls.Certificate
	certErr  error
)

// testCert is one self-signed ECDSA P-256 certificate for 127.0.0.1, shared
// by every test server, so one CA file serves cosign for both registries.
func testCert(t testing.TB) tls.Certificate {
	certOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			certErr = err
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kiln publish test"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
			KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		cert, certErr = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, err
	})
	must(t, certErr)
	return cert
}

func testPool(t testing.TB) *x509.CertPool {
	c, err := x509.ParseCertificate(testCert(t).Certificate[0])
	must(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return pool
}

// caFile writes the test certificate as PEM (cosign's SSL_CERT_FILE).
func caFile(t testing.TB) string {
	p := filepath.Join(t.TempDir(), "ca.pem")
	must(t, os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: testCert(t).Certificate[0]}), 0o644))
	return p
}

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
