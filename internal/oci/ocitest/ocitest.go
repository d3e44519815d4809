// Package ocitest serves registries over TLS for other packages' tests:
// Kiln's embedded registry with a token, or any registry handler (e.g.
// go-containerregistry's as a "production" registry), all under one
// self-signed certificate so one CA file serves cosign for every server.
package ocitest

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
	"sync"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/oci"
)

// Server is a registry behind a TLS test server.
type Server struct {
	// Host is host:port.
	Host string
	// Remote trusts the certificate (and carries the token, if any).
	Remote oci.Remote
	// CAFile is the certificate as PEM, for cosign's SSL_CERT_FILE.
	CAFile string
}

// StartRegistry serves Kiln's embedded registry (referrers API included),
// accepting only token; noSync skips fsync.
func StartRegistry(t testing.TB, token string, noSync bool) *Server {
	t.Helper()
	reg, err := oci.NewRegistry(oci.Config{
		Dir: t.TempDir(), NoSync: noSync, Log: slog.New(slog.DiscardHandler),
		Authorizer: oci.AuthorizerFunc(func(_ context.Context, tok, _ string, _ oci.Action) error {
			if tok != token {
				return oci.ErrUnauthenticated
			}
			return nil
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	s := Serve(t, reg)
	s.Remote.Token = token
	return s
}

// Serve serves a registry handler at /v2/ over TLS.
func Serve(t testing.TB, h http.Handler) *Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/v2/", h)
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{Cert(t)}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return &Server{Host: srv.Listener.Addr().String(), Remote: oci.Remote{RootCAs: Pool(t)}, CAFile: CAFile(t)}
}

var (
	certOnce sync.Once
	cert     tls.Certificate
	certErr  error
)

// Cert is one self-signed ECDSA P-256 certificate for 127.0.0.1, shared by
// every test server (ECDSA, like Kiln's own CA: RSA handshakes would
// dominate benchmarks).
func Cert(t testing.TB) tls.Certificate {
	certOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			certErr = err
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kiln test registry"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
			KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		cert, certErr = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, err
	})
	if certErr != nil {
		t.Fatal(certErr)
	}
	return cert
}

// Pool trusts Cert.
func Pool(t testing.TB) *x509.CertPool {
	c, err := x509.ParseCertificate(Cert(t).Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return pool
}

// CAFile writes Cert as PEM into a temp file.
func CAFile(t testing.TB) string {
	p := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: Cert(t).Certificate[0]}), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
