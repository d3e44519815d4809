// Package clienttest holds test tools for clients of the Kiln API: a
// request log and fault injection (dropped watch streams, 410 Gone as
// HTTP, no tables) to put in front of any server, and a small in-memory
// fake of the API whose fixed clock, uids and resourceVersions keep
// rendered output — the CLI's golden files — the same byte for byte.
//
// Tests of behaviour run against the real API instead (apiserver/apitest);
// the fake serves discovery, CRUD, merge patch, the status subresource,
// tables, selectors, pages and watches with none of the server's rules.
package clienttest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/client"
)

// Token is the bearer token ClientConfig carries (the fake checks none).
const Token = "kiln_test_token"

// Column is a table column the fake renders from a field path.
type Column struct {
	Name     string
	Type     string
	Priority int32
	Path     []string
}

// Kind is a resource the fake serves.
type Kind struct {
	client.Resource
	Columns   []Column
	HasStatus bool
}

// DefaultKinds returns namespaces, secrets, applications and components.
func DefaultKinds() []Kind {
	verbs := []string{"create", "delete", "get", "list", "patch", "update", "watch"}
	core := func(name, singular, kind string, namespaced bool, short ...string) client.Resource {
		return client.Resource{Version: "v1", Name: name, SingularName: singular, Kind: kind,
			Namespaced: namespaced, Verbs: verbs, ShortNames: short}
	}
	kiln := func(name, singular, kind string, short ...string) client.Resource {
		r := core(name, singular, kind, true, short...)
		r.Group, r.Version = "kiln.dev", "v1alpha1"
		return r
	}
	return []Kind{
		{Resource: core("namespaces", "namespace", "Namespace", false, "ns")},
		{Resource: core("secrets", "secret", "Secret", true),
			Columns: []Column{{Name: "Type", Type: "string", Path: []string{"type"}}}},
		{Resource: kiln("applications", "application", "Application", "app", "apps"), HasStatus: true,
			Columns: []Column{{Name: "Display Name", Type: "string", Path: []string{"spec", "displayName"}}}},
		{Resource: kiln("components", "component", "Component", "comp", "comps"), HasStatus: true,
			Columns: []Column{
				{Name: "Application", Type: "string", Path: []string{"spec", "application"}},
				{Name: "Source", Type: "string", Priority: 1, Path: []string{"spec", "source", "git", "url"}},
			}},
	}
}

// Server is a running fake. Its requests are logged (RequestLog) and it
// misbehaves as told (Faults).
type Server struct {
	*httptest.Server
	RequestLog
	Faults
	T testing.TB

	mu    sync.Mutex
	kinds []Kind
	objs  map[string]client.Object // plural/ns/name
	log   []event
	rv    int64
	wake  chan struct{}
	done  chan struct{}
	seq   int
	// now is the clock of creation timestamps.
	now func() time.Time
}

type event struct {
	rv     int64
	plural string
	typ    string
	obj    client.Object
}

// Created is the creation time of every object the fake stores.
var Created = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// New starts a fake serving kinds (DefaultKinds when none are given); it
// is closed when the test ends.
func New(t testing.TB, kinds ...Kind) *Server {
	if len(kinds) == 0 {
		kinds = DefaultKinds()
	}
	s := &Server{
		T: t, kinds: kinds, objs: map[string]client.Object{}, wake: make(chan struct{}),
		done: make(chan struct{}), now: func() time.Time { return Created },
	}
	s.Server = httptest.NewServer(s.Record(s.Wrap(http.HandlerFunc(s.serve))))
	t.Cleanup(s.Server.Close)
	t.Cleanup(func() { close(s.done) })
	return s
}

// ClientConfig returns a client config for the fake.
func (s *Server) ClientConfig() *client.Config {
	return &client.Config{Server: s.URL, Token: Token, Namespace: "default"}
}

// Seed stores objects as if created by a client (resourceVersion,
// uid and creationTimestamp are filled in). Plural names the resource.
func (s *Server) Seed(plural string, objs ...client.Object) {
	for _, o := range objs {
		s.mu.Lock()
		k := s.kind(plural)
		_, err := s.create(k, o.Namespace(), o.DeepCopy())
		s.mu.Unlock()
		if err != nil {
			s.T.Fatalf("seed %s: %v", plural, err)
		}
	}
}

// Object returns a stored object, or nil.
func (s *Server) Object(plural, ns, name string) client.Object {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.objs[key(plural, ns, name)]; o != nil {
		return o.DeepCopy()
	}
	return nil
}

func (s *Server) kind(plural string) *Kind {
	for i := range s.kinds {
		if s.kinds[i].Name == plural {
			return &s.kinds[i]
		}
	}
	s.T.Fatalf("fake server: unknown resource %q", plural)
	return nil
}

func key(plural, ns, name string) string { return plural + "/" + ns + "/" + name }

// notify wakes every watcher; callers hold mu.
func (s *Server) notify() {
	close(s.wake)
	s.wake = make(chan struct{})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// statusError is a failure rendered as a metav1.Status.
type statusError struct {
	code    int
	reason  string
	message string
}

func (e *statusError) Error() string { return e.message }

func errorf(code int, reason, format string, args ...any) *statusError {
	return &statusError{code: code, reason: reason, message: fmt.Sprintf(format, args...)}
}

func (e *statusError) status() map[string]any {
	return map[string]any{"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{},
		"status": "Failure", "code": e.code, "reason": e.reason, "message": e.message}
}

func writeError(w http.ResponseWriter, err error) {
	se, ok := err.(*statusError)
	if !ok {
		se = errorf(500, "InternalError", "%v", err)
	}
	writeJSON(w, se.code, se.status())
}
