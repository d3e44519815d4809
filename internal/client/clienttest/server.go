// Package clienttest is an in-memory fake of the Kiln API server for tests
// of the client and the CLI. It speaks the same HTTP protocol (discovery,
// CRUD, merge/JSON patch, tables, paginated lists, watches with resume and
// 410 Gone, Status errors, tokens, whoami, version) with none of the
// server's business logic.
package clienttest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/client"
)

// Token is the bearer token the fake accepts by default.
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

// DefaultKinds returns namespaces, secrets, applications, components and
// tokens.
func DefaultKinds() []Kind {
	verbs := []string{"create", "delete", "get", "list", "patch", "update", "watch"}
	core := func(name, singular, kind string, namespaced bool, short ...string) client.Resource {
		return client.Resource{Version: "v1", Name: name, SingularName: singular, Kind: kind,
			Namespaced: namespaced, Verbs: verbs, ShortNames: short}
	}
	kiln := func(name, singular, kind string, namespaced bool, short ...string) client.Resource {
		r := core(name, singular, kind, namespaced, short...)
		r.Group, r.Version = "kiln.dev", "v1alpha1"
		return r
	}
	return []Kind{
		{Resource: core("namespaces", "namespace", "Namespace", false, "ns")},
		{Resource: core("secrets", "secret", "Secret", true),
			Columns: []Column{{Name: "Type", Type: "string", Path: []string{"type"}}}},
		{Resource: kiln("applications", "application", "Application", true, "app", "apps"), HasStatus: true,
			Columns: []Column{{Name: "Display Name", Type: "string", Path: []string{"spec", "displayName"}}}},
		{Resource: kiln("components", "component", "Component", true, "comp", "comps"), HasStatus: true,
			Columns: []Column{
				{Name: "Application", Type: "string", Path: []string{"spec", "application"}},
				{Name: "Source", Type: "string", Priority: 1, Path: []string{"spec", "source", "git", "url"}},
			}},
		{Resource: kiln("policies", "policy", "Policy", true)},
		{Resource: kiln("tokens", "token", "Token", false)},
	}
}

// Server is a running fake. Its fields may be changed between requests
// under the protection of Lock/Unlock (or before the first request).
type Server struct {
	*httptest.Server
	T testing.TB

	mu    sync.Mutex
	kinds []Kind
	objs  map[string]client.Object // plural/ns/name
	log   []event
	rv    int64
	minRV int64 // watches from below this get 410 Gone
	wake  chan struct{}
	done  chan struct{}
	reqs  []string
	seq   int

	// Token is the accepted bearer token; empty accepts anything.
	Token string
	// Now is the clock used for creation timestamps.
	Now func() time.Time
	// MaxEventsPerStream closes each watch stream after this many events
	// (0: never), to test resuming.
	MaxEventsPerStream int
	// GoneAsHTTP answers too-old watches with an HTTP 410 instead of an
	// ERROR event.
	GoneAsHTTP bool
	// NoTables makes the server ignore as=Table (plain lists are returned).
	NoTables bool
	// DeleteDelay keeps deleted objects visible (with a deletionTimestamp)
	// for this many GETs.
	DeleteDelay int
	// Bookmarks makes watches send a BOOKMARK with the current
	// resourceVersion after each batch of events.
	Bookmarks bool
	// WhoAmI is served at /apis/kiln.dev/v1alpha1/whoami.
	WhoAmI map[string]any
	// Version is served at /version.
	Version map[string]any
	pending map[string]int
}

type event struct {
	rv     int64
	plural string
	typ    string
	obj    client.Object
}

// New starts a fake serving kinds (DefaultKinds when none are given); it
// is closed when the test ends.
func New(t testing.TB, kinds ...Kind) *Server {
	if len(kinds) == 0 {
		kinds = DefaultKinds()
	}
	s := &Server{
		T: t, kinds: kinds, objs: map[string]client.Object{}, wake: make(chan struct{}),
		done: make(chan struct{}), Token: Token, pending: map[string]int{},
		Now:     func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) },
		WhoAmI:  map[string]any{"user": "alice", "clusterAdmin": false, "bindings": map[string]any{"team-a": "admin"}},
		Version: map[string]any{"gitVersion": "v0.1.0-test"},
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Server.Close)
	t.Cleanup(func() { close(s.done) })
	return s
}

// ClientConfig returns a client config for the fake.
func (s *Server) ClientConfig() *client.Config {
	return &client.Config{Server: s.URL, Token: s.Token, Namespace: "default"}
}

// Lock locks the fake's state.
func (s *Server) Lock() { s.mu.Lock() }

// Unlock unlocks the fake's state.
func (s *Server) Unlock() { s.mu.Unlock() }

// Requests returns "METHOD /path?query" of every request so far.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.reqs...)
}

// CountRequests counts requests with the method whose path starts with
// prefix.
func (s *Server) CountRequests(method, prefix string) int {
	n := 0
	for _, r := range s.Requests() {
		if strings.HasPrefix(r, method+" "+prefix) {
			n++
		}
	}
	return n
}

// Compact makes every resourceVersion up to now too old to watch from.
func (s *Server) Compact() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.minRV = s.rv + 1
}

// ResourceVersion returns the current global resourceVersion.
func (s *Server) ResourceVersion() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rv
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
	causes  []map[string]string
}

func (e *statusError) Error() string { return e.message }

func errorf(code int, reason, format string, args ...any) *statusError {
	return &statusError{code: code, reason: reason, message: fmt.Sprintf(format, args...)}
}

func (e *statusError) status() map[string]any {
	st := map[string]any{"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{},
		"status": "Failure", "code": e.code, "reason": e.reason, "message": e.message}
	if len(e.causes) > 0 {
		st["details"] = map[string]any{"causes": e.causes}
	}
	return st
}

func writeError(w http.ResponseWriter, err error) {
	se, ok := err.(*statusError)
	if !ok {
		se = errorf(500, "InternalError", "%v", err)
	}
	writeJSON(w, se.code, se.status())
}
