// Package ocitest serves registries over TLS for other packages' tests:
// Kiln's embedded registry with a token, or any registry handler (e.g.
// go-containerregistry's as a "production" registry), all under one
// self-signed certificate so one CA file serves cosign for every server.
package ocitest

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/kilnbuild/kiln/internal/oci"
	"github.com/kilnbuild/kiln/internal/tlstest"
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
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{tlstest.Cert(t)}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return &Server{Host: srv.Listener.Addr().String(), Remote: oci.Remote{RootCAs: tlstest.Pool(t)}, CAFile: tlstest.CAFile(t)}
}
