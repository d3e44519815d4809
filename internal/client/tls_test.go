package client_test

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/internal/client"
)

func tlsServer(t *testing.T) (*httptest.Server, []byte) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"gitVersion":"v1"}`))
	}))
	t.Cleanup(srv.Close)
	return srv, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
}

func TestTLSTrustsConfiguredCA(t *testing.T) {
	srv, caPEM := tlsServer(t)
	ctx := context.Background()

	_, err := client.New(&client.Config{Server: srv.URL}).Do(ctx, "GET", "/version", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "not trusted") || !strings.Contains(err.Error(), "--certificate-authority") {
		t.Fatalf("untrusted: err = %v", err)
	}
	if _, err := client.New(&client.Config{Server: srv.URL, CertificateAuthorityData: caPEM}).Do(ctx, "GET", "/version", nil, nil); err != nil {
		t.Fatalf("with CA data: %v", err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := client.New(&client.Config{Server: srv.URL, CertificateAuthority: caFile}).Do(ctx, "GET", "/version", nil, nil); err != nil {
		t.Fatalf("with CA file: %v", err)
	}
	if _, err := client.New(&client.Config{Server: srv.URL, InsecureSkipTLSVerify: true}).Do(ctx, "GET", "/version", nil, nil); err != nil {
		t.Fatalf("insecure: %v", err)
	}
	_, err = client.New(&client.Config{Server: srv.URL, CertificateAuthorityData: []byte("junk")}).Do(ctx, "GET", "/version", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("junk CA: err = %v", err)
	}
}

func TestWriteConfigKeepsCAData(t *testing.T) {
	_, caPEM := tlsServer(t)
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := client.WriteConfig(p, &client.Config{Server: "https://x", CertificateAuthorityData: caPEM}); err != nil {
		t.Fatal(err)
	}
	got, err := client.LoadConfig(p)
	if err != nil || string(got.CertificateAuthorityData) != string(caPEM) {
		t.Fatalf("CA data did not round-trip: %v", err)
	}
}
