package auth

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/store"
	"github.com/kilnbuild/kiln/internal/store/sqlstore"
)

// sessionFixture is a store with user alice and one token of hers.
func sessionFixture(t *testing.T) (*Sessions, store.Store, string, *time.Time) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "s.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	mustCreate(t, st, "User", "alice", map[string]any{"spec": map[string]any{}})
	name, token, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	_, secret, _ := ParseToken(token)
	mustCreate(t, st, "Token", name, map[string]any{"spec": map[string]any{"subject": "alice", "hash": HashSecret(secret)}})
	now := time.Now()
	s := NewSessions(st, NewAuthenticator(st))
	s.now = func() time.Time { return now }
	return s, st, token, &now
}

func mustCreate(t *testing.T, st store.Store, kind, name string, doc map[string]any) {
	t.Helper()
	raw, _ := json.Marshal(doc)
	if _, err := st.Create(context.Background(), &store.Object{Kind: kind, Name: name, Data: raw}); err != nil {
		t.Fatal(err)
	}
}

func TestSessionsExpire(t *testing.T) {
	t.Parallel()
	s, _, token, now := sessionFixture(t)
	ctx := context.Background()
	sid, id, err := s.Login(ctx, token)
	if err != nil || id.User != "alice" {
		t.Fatalf("login: %v %v", id, err)
	}
	*now = now.Add(SessionTTL - time.Second)
	if _, err := s.Identity(ctx, sid); err != nil {
		t.Fatalf("session before its expiry: %v", err)
	}
	*now = now.Add(2 * time.Second)
	if _, err := s.Identity(ctx, sid); !errors.Is(err, ErrNoSession) {
		t.Fatalf("expired session: %v, want ErrNoSession", err)
	}
	code, err := s.NewLoginCode(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	*now = now.Add(LoginCodeTTL)
	if _, _, err := s.Redeem(ctx, code); !errors.Is(err, ErrNoSession) {
		t.Fatalf("expired login code: %v, want ErrNoSession", err)
	}
}

func TestStoreHoldsOnlyHashes(t *testing.T) {
	t.Parallel()
	s, st, token, _ := sessionFixture(t)
	ctx := context.Background()
	sid, _, _ := s.Login(ctx, token)
	code, _ := s.NewLoginCode(ctx, token)
	for _, kind := range []string{sessionKind, loginCodeKind} {
		res, err := st.List(ctx, store.ListOptions{Filter: store.Filter{Kind: kind}})
		if err != nil || len(res.Items) != 1 {
			t.Fatalf("%s: %v %v", kind, res, err)
		}
		o := res.Items[0]
		for _, secret := range []string{sid, code, token} {
			if o.Name == secret || strings.Contains(string(o.Data), secret) {
				t.Errorf("%s stores a secret in the clear", kind)
			}
		}
	}
}

func TestLoginCodeRedeemedOnceUnderRace(t *testing.T) {
	t.Parallel()
	s, _, token, _ := sessionFixture(t)
	ctx := context.Background()
	code, _ := s.NewLoginCode(ctx, token)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := s.Redeem(ctx, code); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("a login code was redeemed %d times, want exactly once", wins)
	}
}
