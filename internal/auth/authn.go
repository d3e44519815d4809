package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/kilnbuild/kiln/internal/store"
)

// Identity is an authenticated caller.
type Identity struct {
	// User is a user name or system:serviceaccount:NS:NAME.
	User string
	// ClusterAdmin may do anything anywhere.
	ClusterAdmin bool
	// Scope, when set, restricts the identity to the worker protocol
	// (a remote worker) or to the registry repositories of one build (a
	// build's push token): such identities are refused by the API.
	Scope *Scope
}

// Scope is what a restricted token may do.
type Scope struct {
	// Worker is the remote worker's name (system:worker:<name>), and
	// Platforms the platforms it may lease builds for.
	Worker    string
	Platforms []string
	// Namespace, Build, Generation and Repository restrict a build's push
	// token: pull in Namespace, push to Repository (and below) only.
	Namespace, Build, Repository string
	Generation                   int64
}

// Restricted reports whether id may use only the worker protocol or the
// registry within its scope.
func (id *Identity) Restricted() bool { return id != nil && id.Scope != nil }

// System is the identity of Kiln's own controllers.
var System = &Identity{User: "system:kiln", ClusterAdmin: true}

// ErrUnauthenticated means the bearer token is missing, malformed, unknown,
// revoked or expired.
var ErrUnauthenticated = errors.New("unauthenticated")

// Authenticator resolves bearer tokens to identities. Lookups are cached
// briefly; revoking a token takes effect within the cache TTL.
type Authenticator struct {
	st    store.Store
	ttl   time.Duration
	now   func() time.Time
	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	id      *Identity
	expires time.Time
}

// NewAuthenticator reads tokens, users and service accounts from st.
func NewAuthenticator(st store.Store) *Authenticator {
	return &Authenticator{st: st, ttl: 2 * time.Second, now: time.Now, cache: map[string]cached{}}
}

// tokenDoc is the part of a stored Token the authenticator needs.
type tokenDoc struct {
	Spec struct {
		Subject   string     `json:"subject"`
		Hash      string     `json:"hash"`
		ExpiresAt *time.Time `json:"expiresAt"`
		Scope     *struct {
			Platforms  []string `json:"platforms"`
			Namespace  string   `json:"namespace"`
			Build      string   `json:"build"`
			Generation int64    `json:"generation"`
			Repository string   `json:"repository"`
		} `json:"scope"`
	} `json:"spec"`
}

// Authenticate returns the identity a bearer token stands for.
func (a *Authenticator) Authenticate(ctx context.Context, token string) (*Identity, error) {
	key := HashSecret(token)
	if id := a.fromCache(key); id != nil {
		return id, nil
	}
	id, err := a.lookup(ctx, token)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.cache[key] = cached{id: id, expires: a.now().Add(a.ttl)}
	a.mu.Unlock()
	return id, nil
}

func (a *Authenticator) fromCache(key string) *Identity {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.cache[key]
	if !ok || a.now().After(c.expires) {
		delete(a.cache, key)
		return nil
	}
	return c.id
}

// Forget drops cached identities (after a revocation).
func (a *Authenticator) Forget() {
	a.mu.Lock()
	a.cache = map[string]cached{}
	a.mu.Unlock()
}

func (a *Authenticator) lookup(ctx context.Context, token string) (*Identity, error) {
	name, secret, ok := ParseToken(token)
	if !ok {
		return nil, fmt.Errorf("%w: not a Kiln token (expected kiln_<id>_<secret>)", ErrUnauthenticated)
	}
	rec, err := a.st.Get(ctx, store.Key{Kind: "Token", Name: name})
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: token %s does not exist or was revoked", ErrUnauthenticated, name)
	}
	if err != nil {
		return nil, fmt.Errorf("reading token %s: %w", name, err)
	}
	var doc tokenDoc
	if err := json.Unmarshal(rec.Data, &doc); err != nil {
		return nil, fmt.Errorf("decoding token %s: %w", name, err)
	}
	if !SecretMatches(secret, doc.Spec.Hash) {
		return nil, fmt.Errorf("%w: token %s: wrong secret", ErrUnauthenticated, name)
	}
	return a.current(ctx, name, doc)
}

// ByTokenName returns the identity of a token known by name only (a
// browser session holds the name of the token that opened it): the token
// must still exist and not have expired, and its subject must exist.
func (a *Authenticator) ByTokenName(ctx context.Context, name string) (*Identity, error) {
	rec, err := a.st.Get(ctx, store.Key{Kind: "Token", Name: name})
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: token %s was revoked", ErrUnauthenticated, name)
	}
	if err != nil {
		return nil, fmt.Errorf("reading token %s: %w", name, err)
	}
	var doc tokenDoc
	if err := json.Unmarshal(rec.Data, &doc); err != nil {
		return nil, fmt.Errorf("decoding token %s: %w", name, err)
	}
	return a.current(ctx, name, doc)
}

// current checks a token's expiry and resolves its subject.
func (a *Authenticator) current(ctx context.Context, name string, doc tokenDoc) (*Identity, error) {
	if doc.Spec.ExpiresAt != nil && a.now().After(*doc.Spec.ExpiresAt) {
		return nil, fmt.Errorf("%w: token %s expired at %s — create a new one with `kiln token create`", ErrUnauthenticated, name, doc.Spec.ExpiresAt.Format(time.RFC3339))
	}
	if id, ok := scoped(doc); ok {
		return id, nil
	}
	return a.subject(ctx, doc.Spec.Subject)
}

// Subject prefixes of restricted identities (see v1alpha1.TokenScope).
const (
	WorkerPrefix = "system:worker:"
	BuildPrefix  = "system:build:"
)

// scoped returns the restricted identity of a worker's or a build's token.
// A token with such a subject but no scope authenticates nothing useful:
// it gets an empty scope, which every check refuses.
func scoped(doc tokenDoc) (*Identity, bool) {
	subject := doc.Spec.Subject
	worker, isWorker := strings.CutPrefix(subject, WorkerPrefix)
	if !isWorker && !strings.HasPrefix(subject, BuildPrefix) {
		return nil, false
	}
	sc := &Scope{}
	if s := doc.Spec.Scope; s != nil {
		sc = &Scope{Platforms: s.Platforms, Namespace: s.Namespace, Build: s.Build, Generation: s.Generation, Repository: s.Repository}
	}
	if isWorker {
		sc.Worker, sc.Namespace, sc.Build, sc.Repository = worker, "", "", ""
	} else {
		sc.Platforms = nil
	}
	return &Identity{User: subject, Scope: sc}, true
}

// subject resolves a token's subject, which must still exist.
func (a *Authenticator) subject(ctx context.Context, subject string) (*Identity, error) {
	if ns, name, ok := ParseServiceAccount(subject); ok {
		_, err := a.st.Get(ctx, store.Key{Kind: "ServiceAccount", Namespace: ns, Name: name})
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%w: service account %s/%s no longer exists", ErrUnauthenticated, ns, name)
		}
		if err != nil {
			return nil, fmt.Errorf("reading service account: %w", err)
		}
		return &Identity{User: subject}, nil
	}
	rec, err := a.st.Get(ctx, store.Key{Kind: "User", Name: subject})
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: user %s no longer exists", ErrUnauthenticated, subject)
	}
	if err != nil {
		return nil, fmt.Errorf("reading user: %w", err)
	}
	var u struct {
		Spec struct {
			ClusterAdmin bool `json:"clusterAdmin"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(rec.Data, &u); err != nil {
		return nil, fmt.Errorf("decoding user %s: %w", subject, err)
	}
	return &Identity{User: subject, ClusterAdmin: u.Spec.ClusterAdmin}, nil
}
