package webhook

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
)

const secret = "It's a Secret to Everybody"

// recorder is a Handler whose lookup, OnPush and OnPullRequest record
// their calls.
type recorder struct {
	mu      sync.Mutex
	lookups []string
	pushes  []PushEvent
	prs     []PullRequestEvent
	secrets map[string][]Secret // normalised URL → secrets
	pushErr error
}

func newRecorder() *recorder {
	return &recorder{secrets: map[string][]Secret{
		"github.com/kilnbuild/greet":          {{Key: "team-a/greet", Value: []byte(secret)}, {Key: "team-b/greet", Value: []byte("other")}},
		"gitlab.com/kiln-team/platform/greet": {{Key: "team-a/greet", Value: []byte(secret)}},
		"codeberg.org/kiln/greet":             {{Key: "team-a/greet", Value: []byte(secret)}},
		"gitea.internal/platform/greet":       {{Key: "ops/greet", Value: []byte(secret)}},
	}}
}

func (rec *recorder) handler() *Handler {
	return &Handler{
		Secrets: func(_ context.Context, u string) ([]Secret, error) {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			rec.lookups = append(rec.lookups, u)
			if u == "github.com/broken/lookup" {
				return nil, errors.New("store down")
			}
			return rec.secrets[u], nil
		},
		OnPush: func(_ context.Context, ev PushEvent) error {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			rec.pushes = append(rec.pushes, ev)
			return rec.pushErr
		},
		OnPullRequest: func(_ context.Context, ev PullRequestEvent) error {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			rec.prs = append(rec.prs, ev)
			return rec.pushErr
		},
	}
}

type hook struct {
	path    string
	headers map[string]string
	body    []byte
}

func (d hook) send(t *testing.T, h http.Handler) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, d.path, bytes.NewReader(d.body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range d.headers {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Code, strings.TrimSpace(w.Body.String())
}

// signed is a hook of a fixture, signed the way forge signs.
func signed(t *testing.T, forge, event, name, key string) hook {
	body := fixture(t, name)
	sig := Sign(body, []byte(key))
	h := map[string]map[string]string{
		"github":  {"X-GitHub-Event": event, "X-Hub-Signature-256": "sha256=" + sig, "X-GitHub-Delivery": "d-1"},
		"gitlab":  {"X-Gitlab-Event": event, "X-Gitlab-Token": key, "X-Gitlab-Event-UUID": "d-1"},
		"forgejo": {"X-Forgejo-Event": event, "X-Forgejo-Signature": sig, "X-Gitea-Signature": sig, "X-Forgejo-Delivery": "d-1"},
		"gitea":   {"X-Gitea-Event": event, "X-Gitea-Signature": sig, "X-Gitea-Delivery": "d-1"},
	}[forge]
	return hook{path: "/hooks/" + forge, headers: h, body: body}
}

func TestAcceptsSignedPushes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ forge, event, fixture, after, verified string }{
		{"github", "push", "github-push", "48efe653b34f1782069062cc203d5195d6507489", "team-a/greet"},
		{"github", "push", "github-tag", "961674a970144f536e7d89fdcde4d3e652d99b72", "team-a/greet"},
		{"gitlab", "Push Hook", "gitlab-push", "ded17de2f8c1b1a275956aeaecbc0939c6c9e155", "team-a/greet"},
		{"gitlab", "Tag Push Hook", "gitlab-tag", "c040f658f84650f0187dfaab61c0bd14496534ac", "team-a/greet"},
		{"forgejo", "push", "forgejo-push", "cc0eadbe8d6360df46d61eb6bbda6c6d36c299aa", "team-a/greet"},
		{"gitea", "push", "gitea-push", "961674a970144f536e7d89fdcde4d3e652d99b72", "ops/greet"},
	} {
		rec := newRecorder()
		code, msg := signed(t, tc.forge, tc.event, tc.fixture, secret).send(t, rec.handler())
		if code != http.StatusAccepted || msg != "accepted" {
			t.Errorf("%s: %d %q; want 202 accepted", tc.fixture, code, msg)
			continue
		}
		if len(rec.pushes) != 1 {
			t.Fatalf("%s: %d pushes passed on; want 1", tc.fixture, len(rec.pushes))
		}
		ev := rec.pushes[0]
		if ev.Forge != tc.forge || ev.After != tc.after || ev.Delivery != "d-1" ||
			!slices.Equal(ev.VerifiedBy, []string{tc.verified}) {
			t.Errorf("%s: passed on %+v", tc.fixture, ev)
		}
		if len(rec.lookups) != 1 {
			t.Errorf("%s: looked up %q; want one normalised URL", tc.fixture, rec.lookups)
		}
	}
}

func TestRejectsBadSignatures(t *testing.T) {
	t.Parallel()
	good := signed(t, "github", "push", "github-push", secret)
	tampered := signed(t, "github", "push", "github-push", secret)
	tampered.body = bytes.Replace(tampered.body, []byte(`"refs/heads/main"`), []byte(`"refs/heads/prod"`), 1)
	without := func(d hook, h string) hook {
		d.headers = maps.Clone(d.headers)
		delete(d.headers, h)
		return d
	}
	with := func(d hook, h, v string) hook {
		d.headers = maps.Clone(d.headers)
		d.headers[h] = v
		return d
	}
	unknownRepo := signed(t, "github", "push", "github-push", secret)
	unknownRepo.body = bytes.ReplaceAll(unknownRepo.body, []byte("kilnbuild/greet"), []byte("someone/else"))
	unknownRepo = with(unknownRepo, "X-Hub-Signature-256", "sha256="+Sign(unknownRepo.body, []byte(secret)))
	for name, tc := range map[string]struct {
		d   hook
		msg string
	}{
		"github wrong secret":  {signed(t, "github", "push", "github-push", "guess"), "signature does not match"},
		"github tampered body": {tampered, "signature does not match"},
		"github missing":       {without(good, "X-Hub-Signature-256"), "missing X-Hub-Signature-256 header"},
		"github no prefix":     {with(good, "X-Hub-Signature-256", strings.TrimPrefix(good.headers["X-Hub-Signature-256"], "sha256=")), "signature does not match"},
		"github not hex":       {with(good, "X-Hub-Signature-256", "sha256=zz"), "signature does not match"},
		"github unknown repo":  {unknownRepo, "signature does not match"},
		"gitlab wrong token":   {signed(t, "gitlab", "Push Hook", "gitlab-push", "It's a Secret to Everybodx"), "signature does not match"},
		"gitlab short token":   {signed(t, "gitlab", "Push Hook", "gitlab-push", "It"), "signature does not match"},
		"gitlab missing":       {without(signed(t, "gitlab", "Push Hook", "gitlab-push", secret), "X-Gitlab-Token"), "missing X-Gitlab-Token header"},
		"forgejo wrong secret": {signed(t, "forgejo", "push", "forgejo-push", "guess"), "signature does not match"},
		"forgejo missing":      {without(without(signed(t, "forgejo", "push", "forgejo-push", secret), "X-Forgejo-Signature"), "X-Gitea-Signature"), "missing X-Forgejo-Signature header"},
		"gitea wrong secret":   {signed(t, "gitea", "push", "gitea-push", "guess"), "signature does not match"},
		"github ping bad":      {signed(t, "github", "ping", "github-ping", "guess"), "signature does not match"},
	} {
		rec := newRecorder()
		code, msg := tc.d.send(t, rec.handler())
		if code != http.StatusUnauthorized || !strings.Contains(msg, tc.msg) {
			t.Errorf("%s: %d %q; want 401 %q", name, code, msg, tc.msg)
		}
		if len(rec.pushes) != 0 {
			t.Errorf("%s: %d pushes passed on; want none", name, len(rec.pushes))
		}
	}
}

func TestIgnoresWhatIsNotAPush(t *testing.T) {
	t.Parallel()
	orgPing := hook{path: "/hooks/github", body: []byte(`{"zen": "Keep it logically awesome.", "hook_id": 1, "hook": {"type": "Organization"}}`),
		headers: map[string]string{"X-GitHub-Event": "ping", "X-Hub-Signature-256": "sha256=00"}}
	for name, tc := range map[string]struct {
		d   hook
		msg string
	}{
		"ping":           {signed(t, "github", "ping", "github-ping", secret), "ignored: ping"},
		"org ping":       {orgPing, "ignored: ping"},
		"branch deleted": {signed(t, "github", "push", "github-delete", secret), "ignored: refs/heads/feature/french was deleted"},
		"issues":         {signed(t, "github", "issues", "github-push", secret), `ignored: "issues" is not a push event`},
		"forgejo create": {signed(t, "forgejo", "create", "forgejo-push", secret), `ignored: "create" is not a push event`},
	} {
		rec := newRecorder()
		code, msg := tc.d.send(t, rec.handler())
		if code != http.StatusOK || msg != tc.msg {
			t.Errorf("%s: %d %q; want 200 %q", name, code, msg, tc.msg)
		}
		if len(rec.pushes) != 0 {
			t.Errorf("%s: passed on %+v", name, rec.pushes)
		}
	}
}

func TestRequestErrors(t *testing.T) {
	t.Parallel()
	malformed := hook{path: "/hooks/github", body: []byte(`{"ref": "refs/heads/main",`)}
	malformed.headers = map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + Sign(malformed.body, []byte(secret))}
	noRepo := hook{path: "/hooks/gitlab", body: []byte(`{"object_kind": "push", "ref": "refs/heads/main"}`),
		headers: map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": secret}}
	brokenLookup := signed(t, "github", "push", "github-push", secret)
	brokenLookup.body = bytes.ReplaceAll(brokenLookup.body, []byte("kilnbuild/greet"), []byte("broken/lookup"))
	for name, tc := range map[string]struct {
		d    hook
		code int
		msg  string
	}{
		"malformed JSON": {malformed, http.StatusBadRequest, "malformed JSON"},
		"no repository":  {noRepo, http.StatusBadRequest, "payload names no repository"},
		"unknown forge":  {hook{path: "/hooks/bitbucket"}, http.StatusNotFound, "unknown forge"},
		"lookup fails":   {brokenLookup, http.StatusInternalServerError, "internal error"},
	} {
		rec := newRecorder()
		code, msg := tc.d.send(t, rec.handler())
		if code != tc.code || !strings.Contains(msg, tc.msg) {
			t.Errorf("%s: %d %q; want %d %q", name, code, msg, tc.code, tc.msg)
		}
		if len(rec.pushes) != 0 {
			t.Errorf("%s: passed on %+v", name, rec.pushes)
		}
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	h := rec.handler()
	h.MaxBody = 1024
	d := signed(t, "github", "push", "github-push", secret) // ~5 KB
	if code, msg := d.send(t, h); code != http.StatusRequestEntityTooLarge || msg != "body larger than 1024 bytes" {
		t.Errorf("%d %q; want 413", code, msg)
	}
	big := d
	big.body = append(bytes.Repeat([]byte(" "), DefaultMaxBody), d.body...)
	if code, _ := big.send(t, rec.handler()); code != http.StatusRequestEntityTooLarge {
		t.Errorf("a body over 5 MiB: %d; want 413", code)
	}
	if len(rec.pushes) != 0 {
		t.Errorf("passed on %+v", rec.pushes)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	newRecorder().handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/hooks/github", nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d; want 405", w.Code)
	}
}

func TestOnPushFailureIs500(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	rec.pushErr = errors.New("queue full")
	code, msg := signed(t, "github", "push", "github-push", secret).send(t, rec.handler())
	if code != http.StatusInternalServerError || msg != "internal error" {
		t.Errorf("%d %q; want 500 internal error", code, msg)
	}
}

// GitHub (and Gitea) can send the payload as a form field; the signature
// covers the form body.
func TestFormEncodedPayload(t *testing.T) {
	t.Parallel()
	body := []byte("payload=" + url.QueryEscape(string(fixture(t, "github-push"))))
	rec := newRecorder()
	req := httptest.NewRequest(http.MethodPost, "/hooks/github", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-Hub-Signature-256", "sha256="+Sign(body, []byte(secret)))
	w := httptest.NewRecorder()
	rec.handler().ServeHTTP(w, req)
	if w.Code != http.StatusAccepted || len(rec.pushes) != 1 || rec.pushes[0].Branch != "main" {
		t.Errorf("%d %q, pushes %+v; want 202 and one push of main", w.Code, w.Body, rec.pushes)
	}
}

func TestSign(t *testing.T) {
	t.Parallel()
	// The example from GitHub's documentation on validating deliveries.
	got := Sign([]byte("Hello, World!"), []byte(secret))
	if want := "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"; got != want {
		t.Errorf("Sign = %s; want %s", got, want)
	}
}

// TestEmptySecretVerifiesNothing: a delivery signed with an empty key,
// which anyone can compute, is never taken as verified by a secret whose
// value is empty.
func TestEmptySecretVerifiesNothing(t *testing.T) {
	t.Parallel()
	body := fixture(t, "github-push")
	for forge, sig := range map[string]string{"github": "sha256=" + Sign(body, nil), "forgejo": Sign(body, nil)} {
		h := &Handler{
			Secrets: func(context.Context, string) ([]Secret, error) { return []Secret{{Key: "ns/c"}}, nil },
			OnPush:  func(context.Context, PushEvent) error { t.Errorf("%s: push passed on", forge); return nil },
		}
		code, msg := hook{path: "/hooks/" + forge, headers: signatureHeaders(forge, "push", sig, body), body: body}.send(t, h)
		if code != http.StatusUnauthorized {
			t.Errorf("%s: %d %s, want 401", forge, code, msg)
		}
	}
}
