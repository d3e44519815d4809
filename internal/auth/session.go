package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kilnbuild/kiln/internal/store"
)

// Browser sessions and login codes live in the store under kinds the API
// never serves. Both are keyed by the hash of their secret, so the store
// holds nothing a browser could present; both are bound to the bearer
// token that opened them, so revoking the token (or its expiry, or the
// deletion of its user) ends them too.
const (
	sessionKind   = "UISession"
	loginCodeKind = "UILoginCode"
	// SessionTTL is how long a browser session lasts.
	SessionTTL = 12 * time.Hour
	// LoginCodeTTL is how long a login code from `kiln ui` stays valid.
	LoginCodeTTL = 60 * time.Second
)

// ErrNoSession means a session cookie or login code is unknown, expired
// or already used.
var ErrNoSession = errors.New("no such session")

// Sessions issues and resolves browser sessions and single-use login codes.
type Sessions struct {
	st    store.Store
	authn *Authenticator
	now   func() time.Time
}

// NewSessions keeps sessions in st; identities resolve through authn.
func NewSessions(st store.Store, authn *Authenticator) *Sessions {
	return &Sessions{st: st, authn: authn, now: time.Now}
}

// grant is the stored form of a session or login code.
type grant struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// newSecret returns a random 256-bit secret in base32.
func newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("reading random bytes: %w", err)
	}
	return strings.ToLower(b32.EncodeToString(b)), nil
}

// Login authenticates a bearer token and opens a session for it,
// returning the session id (for the cookie only) and its identity.
func (s *Sessions) Login(ctx context.Context, token string) (string, *Identity, error) {
	id, err := s.authn.Authenticate(ctx, token)
	if err != nil {
		return "", nil, err
	}
	name, _, _ := ParseToken(token)
	sid, err := s.put(ctx, sessionKind, name, SessionTTL)
	if err != nil {
		return "", nil, err
	}
	s.sweep(ctx)
	return sid, id, nil
}

// NewLoginCode returns a single-use code, valid for LoginCodeTTL, that
// opens a session for the token's identity (see Redeem).
func (s *Sessions) NewLoginCode(ctx context.Context, token string) (string, error) {
	if _, err := s.authn.Authenticate(ctx, token); err != nil {
		return "", err
	}
	name, _, _ := ParseToken(token)
	return s.put(ctx, loginCodeKind, name, LoginCodeTTL)
}

// Redeem exchanges a login code for a new session; a code works once.
func (s *Sessions) Redeem(ctx context.Context, code string) (string, *Identity, error) {
	key := store.Key{Kind: loginCodeKind, Name: HashSecret(code)}
	obj, err := s.st.Get(ctx, key)
	if err != nil {
		return "", nil, notFoundAs(err, "login code")
	}
	// Deleting at the version read makes the code single use: of two
	// concurrent redemptions only one deletes it.
	if _, err := s.st.Delete(ctx, key, obj.ResourceVersion); err != nil {
		return "", nil, notFoundAs(err, "login code")
	}
	g, err := s.valid(obj, "login code")
	if err != nil {
		return "", nil, err
	}
	id, err := s.authn.ByTokenName(ctx, g.Token)
	if err != nil {
		return "", nil, err
	}
	sid, err := s.put(ctx, sessionKind, g.Token, SessionTTL)
	return sid, id, err
}

// Identity resolves a session id to the identity of the token behind it,
// checked afresh: a revoked or expired token ends its sessions.
func (s *Sessions) Identity(ctx context.Context, sid string) (*Identity, error) {
	obj, err := s.st.Get(ctx, store.Key{Kind: sessionKind, Name: HashSecret(sid)})
	if err != nil {
		return nil, notFoundAs(err, "session")
	}
	g, err := s.valid(obj, "session")
	if err != nil {
		return nil, err
	}
	return s.authn.ByTokenName(ctx, g.Token)
}

// Logout deletes a session; an unknown one is not an error.
func (s *Sessions) Logout(ctx context.Context, sid string) error {
	_, err := s.st.Delete(ctx, store.Key{Kind: sessionKind, Name: HashSecret(sid)}, 0)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("deleting session: %w", err)
	}
	return nil
}

// CSRFToken is the value state-changing requests made with the session's
// cookie must carry in a header. It is derived from the session id, which
// only the cookie holds, and handed to the page by a same-origin read.
func CSRFToken(sid string) string { return HashSecret("csrf:" + sid) }

// CSRFMatches compares a presented CSRF header in constant time.
func CSRFMatches(sid, presented string) bool {
	return subtle.ConstantTimeCompare([]byte(CSRFToken(sid)), []byte(presented)) == 1
}

func (s *Sessions) put(ctx context.Context, kind, token string, ttl time.Duration) (string, error) {
	secret, err := newSecret()
	if err != nil {
		return "", err
	}
	data, err := json.Marshal(grant{Token: token, ExpiresAt: s.now().Add(ttl).UTC()})
	if err != nil {
		return "", fmt.Errorf("encoding %s: %w", kind, err)
	}
	if _, err := s.st.Create(ctx, &store.Object{Kind: kind, Name: HashSecret(secret), Data: data}); err != nil {
		return "", fmt.Errorf("storing %s: %w", kind, err)
	}
	return secret, nil
}

func (s *Sessions) valid(obj *store.Object, what string) (grant, error) {
	var g grant
	if err := json.Unmarshal(obj.Data, &g); err != nil {
		return g, fmt.Errorf("decoding %s: %w", what, err)
	}
	if !s.now().Before(g.ExpiresAt) {
		return g, fmt.Errorf("%w: the %s expired at %s", ErrNoSession, what, g.ExpiresAt.Format(time.RFC3339))
	}
	return g, nil
}

// sweep deletes expired sessions and login codes (best effort; an expired
// one is refused anyway).
func (s *Sessions) sweep(ctx context.Context) {
	for _, kind := range []string{sessionKind, loginCodeKind} {
		res, err := s.st.List(ctx, store.ListOptions{Filter: store.Filter{Kind: kind}, Limit: 500})
		if err != nil {
			continue
		}
		for _, obj := range res.Items {
			if _, err := s.valid(obj, kind); err != nil {
				_, _ = s.st.Delete(ctx, obj.Key(), obj.ResourceVersion)
			}
		}
	}
}

func notFoundAs(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("%w: unknown or already used %s", ErrNoSession, what)
	}
	return fmt.Errorf("reading %s: %w", what, err)
}
