// Package apiserver serves Kiln's resources over HTTP following Kubernetes
// API conventions (discovery, namespaced resource paths, list/watch, Status
// errors, merge patch, tables), so kubectl and client-go tooling work against
// it. Every request is authenticated by bearer token and authorised by role
// bindings before it reaches the registry.
package apiserver

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/kilnbuild/kiln/internal/auth"
	"github.com/kilnbuild/kiln/internal/registry"
)

// Server is the HTTP API.
type Server struct {
	reg     *registry.Registry
	authn   *auth.Authenticator
	authz   *auth.Authorizer
	log     *slog.Logger
	version string
	mux     *http.ServeMux
	extra   []route
	logs    LogOpener
	evPath  func(ns, name, file string) string
	builder BuilderInfo
	// sessions authenticates browser session cookies (nil: bearer only).
	sessions *auth.Sessions
}

type route struct {
	pattern string
	h       http.Handler
	public  bool
}

// Config wires a Server.
type Config struct {
	Registry      *registry.Registry
	Authenticator *auth.Authenticator
	Authorizer    *auth.Authorizer
	Log           *slog.Logger
	Version       string
	// Logs opens the log of a Build, a Release, or one scenario (Part) of
	// a Snapshot: the log subresource.
	Logs LogOpener
	// EvidencePath locates a build's kept evidence file (provenance.json,
	// sbom.spdx.json, sbom.cdx.json) for the provenance and sbom
	// subresources.
	EvidencePath func(ns, name, file string) string
	// Builder is served at /apis/kiln.dev/v1alpha1/builder.
	Builder BuilderInfo
	// Sessions, when set, accepts browser sessions (the web UI) beside
	// bearer tokens: /ui/login, /ui/logout, /ui/session, /ui/logincode.
	Sessions *auth.Sessions
}

// BuilderInfo is what verifiers need: the builder id the provenance names
// and the public key that checks signatures.
type BuilderInfo struct {
	BuilderID string `json:"builderId"`
	// PublicKey is PKIX PEM ("PUBLIC KEY"), as `cosign verify --key` reads.
	PublicKey string `json:"publicKey"`
	// KeyID is sha256 of the key's DER encoding.
	KeyID string `json:"keyId"`
}

// New returns a Server.
func New(cfg Config) *Server {
	return &Server{reg: cfg.Registry, authn: cfg.Authenticator, authz: cfg.Authorizer, log: cfg.Log, version: cfg.Version,
		logs: cfg.Logs, evPath: cfg.EvidencePath, builder: cfg.Builder, sessions: cfg.Sessions}
}

// Handle mounts an extra handler (e.g. the OCI registry or webhooks). Public
// handlers do their own authentication.
func (s *Server) Handle(pattern string, h http.Handler, public bool) {
	s.extra = append(s.extra, route{pattern: pattern, h: h, public: public})
}

// Handler returns the root handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, p := range []string{"/healthz", "/livez", "/readyz"} {
		mux.HandleFunc(p, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	}
	mux.Handle("/version", s.authed(http.HandlerFunc(s.serveVersion)))
	mux.Handle("/api", s.authed(http.HandlerFunc(s.serveCoreVersions)))
	mux.Handle("/apis", s.authed(http.HandlerFunc(s.serveGroups)))
	mux.Handle("/api/", s.authed(http.HandlerFunc(s.serveAPI)))
	mux.Handle("/apis/", s.authed(http.HandlerFunc(s.serveAPI)))
	mux.Handle("/openapi/", s.authed(http.HandlerFunc(s.serveOpenAPI)))
	if s.sessions != nil {
		s.sessionRoutes(mux)
	}
	for _, r := range s.extra {
		h := r.h
		if !r.public {
			h = s.authed(h)
		}
		mux.Handle(r.pattern, h)
	}
	return s.logged(mux)
}

type ctxKey int

const identityKey ctxKey = 0

// IdentityFrom returns the authenticated caller of a request.
func IdentityFrom(ctx context.Context) *auth.Identity {
	id, _ := ctx.Value(identityKey).(*auth.Identity)
	return id
}

// WithIdentity attaches an identity to ctx, and makes every registry
// write made with ctx a user's (held to the rules on system labels).
func WithIdentity(ctx context.Context, id *auth.Identity) context.Context {
	if id != nil {
		ctx = registry.WithRequester(ctx, registry.Requester{User: id.User})
	}
	return context.WithValue(ctx, identityKey, id)
}

// authed rejects requests without a valid bearer token or browser
// session (see session.go).
func (s *Server) authed(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || token == "" {
			id, err := s.cookieIdentity(r)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			h.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), id)))
			return
		}
		id, err := s.authn.Authenticate(r.Context(), strings.TrimSpace(token))
		if err != nil {
			s.writeError(w, r, unauthorized(err.Error()))
			return
		}
		if id.Restricted() {
			s.writeError(w, r, forbidden(id.User+": worker and build tokens serve only the worker protocol and the registry, not the API"))
			return
		}
		h.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), id)))
	})
}

// statusRecorder captures the response code for the access log.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) { s.code = code; s.ResponseWriter.WriteHeader(code) }

// Flush passes through so watches stream.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *Server) logged(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: 200}
		h.ServeHTTP(rec, r)
		s.log.Debug("http", "method", r.Method, "path", r.URL.Path, "code", rec.code, "dur", time.Since(start))
	})
}
