// Package apitest runs Kiln's real API in-process for tests, as envtest
// does for Kubernetes: the apiserver, the registry and the authorizer over
// a SQLite store in the test's temp dir, behind an httptest server. No
// controllers run, so objects stay as the API leaves them: nothing builds,
// owners do not cascade, and a deleted namespace keeps its finalizer.
package apitest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/apiserver"
	"github.com/kilnbuild/kiln/internal/auth"
	"github.com/kilnbuild/kiln/internal/client"
	"github.com/kilnbuild/kiln/internal/registry"
	"github.com/kilnbuild/kiln/internal/registry/registrytest"
	"github.com/kilnbuild/kiln/internal/store"
)

// AdminUser is the cluster admin every Env starts with.
const AdminUser = "admin"

// Version is the server version an Env reports at /version.
const Version = "v0.1.0-test"

// Env is a running API.
type Env struct {
	// URL is the API's base URL (plain HTTP on loopback).
	URL string
	// AdminToken is a bearer token of AdminUser, a cluster admin.
	AdminToken string
	// Registry is the registry behind the API, for writes the API does not
	// allow (status, as a controller would).
	Registry *registry.Registry
	// Dir holds the database (kiln.db) and the Secret sealing key.
	Dir     string
	handler http.Handler
}

// Option tunes Start.
type Option func(*options)

type options struct {
	store store.Options
	wrap  []func(http.Handler) http.Handler
}

// WithStore opens the store with opts (e.g. a short event retention, for
// tests of compaction).
func WithStore(opts store.Options) Option {
	return func(o *options) { o.store = opts }
}

// WithMiddleware puts mw in front of the API, e.g. a request log or a
// fault injector; the last one given is the outermost.
func WithMiddleware(mw func(http.Handler) http.Handler) Option {
	return func(o *options) { o.wrap = append(o.wrap, mw) }
}

// Start runs an API with a cluster admin and the namespace "default"; it
// stops when the test ends.
func Start(t testing.TB, opts ...Option) *Env {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	dir := t.TempDir()
	reg := registrytest.NewIn(t, dir, o.store)
	api := apiserver.New(apiserver.Config{
		Registry: reg, Authenticator: auth.NewAuthenticator(reg.Store()), Authorizer: auth.NewAuthorizer(reg.Store()),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Version: Version,
	})
	e := &Env{Registry: reg, Dir: dir}
	h := api.Handler()
	for _, mw := range o.wrap {
		h = mw(h)
	}
	e.handler = h
	e.URL = serve(t, e.handler)
	e.AdminToken = e.bootstrap(t)
	return e
}

// serve starts an HTTP server for h; open watches end when the test does.
func serve(t testing.TB, h http.Handler) string {
	ctx, cancel := context.WithCancel(context.Background())
	srv := httptest.NewUnstartedServer(h)
	srv.Config.BaseContext = func(net.Listener) context.Context { return ctx }
	srv.Start()
	t.Cleanup(func() { cancel(); srv.Close() })
	return srv.URL
}

// bootstrap creates the admin user, the default namespace and an admin
// token, as `kiln up` does on first start.
func (e *Env) bootstrap(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	e.create(t, "User", `{"metadata":{"name":"`+AdminUser+`"},"spec":{"displayName":"admin","clusterAdmin":true}}`)
	e.create(t, "Namespace", `{"metadata":{"name":"default"},"spec":{"type":"tenant"}}`)
	tok, err := apiserver.IssueToken(ctx, e.Registry, apiserver.TokenRequest{Subject: AdminUser, Description: "test admin"})
	if err != nil {
		t.Fatalf("issuing the admin token: %v", err)
	}
	return tok.Token
}

func (e *Env) create(t testing.TB, kind, doc string) {
	t.Helper()
	k := v1alpha1.MustLookup(kind)
	obj, err := v1alpha1.DecodeAs(k, []byte(doc))
	if err == nil {
		_, err = e.Registry.Create(context.Background(), k, obj, registry.CreateOptions{})
	}
	if err != nil {
		t.Fatalf("bootstrapping %s: %v", kind, err)
	}
}

// Handler is the API's handler, for tests that put a proxy in front.
func (e *Env) Handler() http.Handler { return e.handler }

// ClientConfig is a client config for the admin in namespace "default".
func (e *Env) ClientConfig() *client.Config {
	return &client.Config{Server: e.URL, Token: e.AdminToken, Namespace: "default"}
}

// Store is the store behind the registry.
func (e *Env) Store() store.Store { return e.Registry.Store() }

// ResourceVersion is the store's current resource version.
func (e *Env) ResourceVersion(t testing.TB) int64 {
	t.Helper()
	rv, err := e.Store().CurrentRV(context.Background())
	if err != nil {
		t.Fatalf("reading the resource version: %v", err)
	}
	return rv
}

// Compact drops every event so far, so that a watch from any earlier
// resourceVersion gets 410 Gone. The store must allow it: start with
// WithStore(store.Options{EventRetention: -1, MinEvents: -1}).
func (e *Env) Compact(t testing.TB) {
	t.Helper()
	c, ok := e.Store().(interface{ Compact(context.Context) error })
	if !ok {
		t.Fatalf("store %T cannot compact", e.Store())
	}
	cur := e.ResourceVersion(t)
	deadline := time.Now().Add(10 * time.Second)
	for !e.expired(t, cur) {
		if time.Now().After(deadline) {
			t.Fatalf("events up to %d stay after compaction: start the Env WithStore options that let them go", cur)
		}
		// Retention counts in milliseconds: the events of this one stay.
		time.Sleep(time.Millisecond)
		if err := c.Compact(context.Background()); err != nil {
			t.Fatalf("compacting: %v", err)
		}
	}
}

// expired reports whether a watch from just before rv is too old.
func (e *Env) expired(t testing.TB, rv int64) bool {
	t.Helper()
	w, err := e.Store().Watch(context.Background(), store.WatchOptions{SinceRV: rv - 1})
	if err == nil {
		w.Stop()
		return false
	}
	if !errors.Is(err, store.ErrExpired) {
		t.Fatalf("watching from %d: %v", rv-1, err)
	}
	return true
}
