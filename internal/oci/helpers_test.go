package oci

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/kilnbuild/kiln/internal/tlstest"
)

// Test tokens: tenant A maintains team-a, tenant B maintains team-b, the
// viewer may only read team-a, the admin is a cluster admin.
const (
	tokenA      = "token-a"
	tokenB      = "token-b"
	tokenViewer = "token-viewer"
	tokenAdmin  = "token-admin"
)

type grant struct {
	admin  bool
	read   []string
	write  []string
	denied error
}

// fakeAuthorizer maps tokens to grants.
type fakeAuthorizer map[string]grant

func (f fakeAuthorizer) Authorize(_ context.Context, token, ns string, action Action) error {
	g, ok := f[token]
	if !ok {
		return fmt.Errorf("%w: unknown token", ErrUnauthenticated)
	}
	if g.denied != nil {
		return g.denied
	}
	allowed := g.admin || action == ActionLogin
	switch action {
	case ActionPull:
		allowed = allowed || contains(g.read, ns) || contains(g.write, ns)
	case ActionPush, ActionDelete:
		allowed = allowed || contains(g.write, ns)
	}
	if !allowed {
		return fmt.Errorf("%w: %s in %q", ErrForbidden, action, ns)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var testGrants = fakeAuthorizer{
	tokenA:      {write: []string{"team-a"}},
	tokenB:      {write: []string{"team-b"}},
	tokenViewer: {read: []string{"team-a"}},
	tokenAdmin:  {admin: true},
}

// testRegistry is an embedded registry behind a TLS test server.
type testRegistry struct {
	reg  *Registry
	srv  *httptest.Server
	host string
	dir  string
	cas  *x509.CertPool
}

func startRegistry(t testing.TB, dir string) *testRegistry {
	t.Helper()
	return startRegistryWith(t, Config{Dir: dir})
}

// startRegistryWith fills in the test Authorizer and a silent logger.
func startRegistryWith(t testing.TB, cfg Config) *testRegistry {
	t.Helper()
	cfg.Authorizer, cfg.Log = testGrants, slog.New(slog.DiscardHandler)
	dir := cfg.Dir
	reg, err := NewRegistry(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v2/", reg)
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // ggcr also probes http://
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{tlstest.Cert(t)}}
	srv.StartTLS()
	t.Cleanup(func() { srv.Close(); reg.Close() })
	cas := x509.NewCertPool()
	cas.AddCert(srv.Certificate())
	return &testRegistry{reg: reg, srv: srv, host: srv.Listener.Addr().String(), dir: dir, cas: cas}
}

// remote returns client options for token.
func (tr *testRegistry) remote(token string) Remote { return Remote{Token: token, RootCAs: tr.cas} }

// ref returns a full reference in this registry.
func (tr *testRegistry) ref(repoAndTag string) string { return tr.host + "/" + repoAndTag }

// do sends a raw request with Basic auth for token (none when empty).
func (tr *testRegistry) do(t testing.TB, method, path, token string, body io.Reader, header map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, tr.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.SetBasicAuth("anyone", token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := tr.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readBody(t testing.TB, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// writeTree creates files from a map of relative path → content. A
// content starting with "->" makes a symlink; paths ending in "/" are
// directories.
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if strings.HasSuffix(rel, "/") {
			mustNil(t, os.MkdirAll(p, 0o755))
			continue
		}
		mustNil(t, os.MkdirAll(filepath.Dir(p), 0o755))
		if target, ok := strings.CutPrefix(content, "->"); ok {
			mustNil(t, os.Symlink(target, p))
			continue
		}
		mustNil(t, os.WriteFile(p, []byte(content), 0o644))
	}
}

func mustNil(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

// fetchManifest reads an image manifest by digest.
func fetchManifest(t testing.TB, tr *testRegistry, repo, dgst, token string) *v1.Manifest {
	t.Helper()
	resp := tr.do(t, http.MethodGet, "/v2/"+repo+"/manifests/"+dgst, token, nil,
		map[string]string{"Accept": string(types.OCIManifestSchema1)})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET manifest %s = %d", dgst, resp.StatusCode)
	}
	m, err := v1.ParseManifest(resp.Body)
	mustNil(t, err)
	return m
}
