package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
}

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
	return a.subject(ctx, doc.Spec.Subject)
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
