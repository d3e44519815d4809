package webhook

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var forgeNames = []string{"github", "gitlab", "forgejo", "gitea"}

// fixtureEvents are the event header values of the testdata fixtures.
var fixtureEvents = map[string]string{
	"push": "push", "tag": "push", "delete": "delete", "ping": "ping",
	"pull-request": "pull_request", "merge-request": "Merge Request Hook",
}

// addFixtures seeds f with every testdata payload, its forge and event.
func addFixtures(f *testing.F, add func(forge uint8, event string, body []byte)) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, name := range files {
		body, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		forge, kind, _ := strings.Cut(strings.TrimSuffix(filepath.Base(name), ".json"), "-")
		event := fixtureEvents[kind]
		if forge == "gitlab" && kind == "push" {
			event = "Push Hook"
		}
		add(uint8(slices.Index(forgeNames, forge)), event, body)
	}
}

// fuzzHook is a Handler that trusts one secret for every repository and
// records what it passes on.
type fuzzHook struct {
	pushes []PushEvent
	prs    []PullRequestEvent
}

func (r *fuzzHook) handler() *Handler {
	return &Handler{
		Secrets: func(context.Context, string) ([]Secret, error) {
			return []Secret{{Key: "ns/c", Value: []byte(secret)}, {Key: "empty", Value: nil}}, nil
		},
		OnPush:        func(_ context.Context, ev PushEvent) error { r.pushes = append(r.pushes, ev); return nil },
		OnPullRequest: func(_ context.Context, ev PullRequestEvent) error { r.prs = append(r.prs, ev); return nil },
	}
}

// signatureHeaders returns the headers of a delivery of forge signed with
// sig (the correct one when sig is "").
func signatureHeaders(forge, event, sig string, body []byte) map[string]string {
	good := Sign(body, []byte(secret))
	if sig == "" {
		sig = map[string]string{"github": "sha256=" + good, "gitlab": secret, "forgejo": good, "gitea": good}[forge]
	}
	return map[string]map[string]string{
		"github":  {"X-GitHub-Event": event, "X-Hub-Signature-256": sig},
		"gitlab":  {"X-Gitlab-Event": event, "X-Gitlab-Token": sig},
		"forgejo": {"X-Forgejo-Event": event, "X-Forgejo-Signature": sig},
		"gitea":   {"X-Gitea-Event": event, "X-Gitea-Signature": sig},
	}[forge]
}

// signedBySecret checks a signature independently of the forge table.
func signedBySecret(forge, sig string, body []byte) bool {
	good := Sign(body, []byte(secret))
	sig = strings.TrimSpace(sig)
	switch forge {
	case "github":
		return strings.EqualFold(sig, "sha256="+good)
	case "gitlab":
		return sig == secret
	}
	return strings.EqualFold(strings.TrimPrefix(sig, "sha256="), good)
}

// FuzzDelivery: whatever a forge (or anyone) posts to /hooks/<forge>, the
// answer is never a server error, and a push or pull request is passed on
// only when the delivery is signed with the repository's secret (never
// with an empty one), as a well-formed event.
func FuzzDelivery(f *testing.F) {
	addFixtures(f, func(forge uint8, event string, body []byte) {
		f.Add(forge, event, body, "", false)
		f.Add(forge, event, body, "sha256=00", true)
	})
	f.Fuzz(func(t *testing.T, forgeN uint8, event string, payload []byte, sig string, form bool) {
		forge := forgeNames[int(forgeN)%len(forgeNames)]
		body, ctype := payload, "application/json"
		if form {
			body, ctype = []byte("payload="+url.QueryEscape(string(payload))), "application/x-www-form-urlencoded"
		}
		req := httptest.NewRequest(http.MethodPost, "/hooks/"+forge, bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		for k, v := range signatureHeaders(forge, event, sig, body) {
			req.Header.Set(k, v)
		}
		var rec fuzzHook
		w := httptest.NewRecorder()
		rec.handler().ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%d: %s", w.Code, w.Body)
		}
		passedOn := len(rec.pushes) + len(rec.prs)
		if passedOn > 0 && !signedBySecret(forge, req.Header.Get(signatureHeaderOf(forge)), body) {
			t.Fatalf("an unverified delivery was passed on (signature %q)", req.Header.Get(signatureHeaderOf(forge)))
		}
		checkEvents(t, rec.pushes, rec.prs)
	})
}

func signatureHeaderOf(forge string) string {
	return map[string]string{"github": "X-Hub-Signature-256", "gitlab": "X-Gitlab-Token",
		"forgejo": "X-Forgejo-Signature", "gitea": "X-Gitea-Signature"}[forge]
}

func checkEvents(t *testing.T, pushes []PushEvent, prs []PullRequestEvent) {
	t.Helper()
	for _, ev := range pushes {
		if !commitRE.MatchString(ev.After) || ev.Ref == "" || len(ev.RepoURLs) == 0 || !slices.Equal(ev.VerifiedBy, []string{"ns/c"}) {
			t.Fatalf("malformed push passed on: %+v", ev)
		}
	}
	for _, ev := range prs {
		if err := ev.check(); err != nil || !slices.Equal(ev.VerifiedBy, []string{"ns/c"}) {
			t.Fatalf("malformed pull request passed on (%v): %+v", err, ev)
		}
	}
}

// FuzzParseEvent: ParsePush and ParsePullRequest return an event that
// satisfies their promises, or an error, for any body.
func FuzzParseEvent(f *testing.F) {
	addFixtures(f, func(forge uint8, _ string, body []byte) { f.Add(forge, body) })
	f.Fuzz(func(t *testing.T, forgeN uint8, body []byte) {
		forge := forgeNames[int(forgeN)%len(forgeNames)]
		if ev, err := ParsePush(forge, body); err == nil {
			branchOK := ev.Branch == "" || ev.Ref == "refs/heads/"+ev.Branch
			tagOK := ev.Tag == "" || ev.Ref == "refs/tags/"+ev.Tag
			if !commitRE.MatchString(ev.After) || ev.Ref == "" || len(ev.RepoURLs) == 0 || !branchOK || !tagOK || ev.Forge != forge {
				t.Fatalf("ParsePush accepted a malformed push: %+v", ev)
			}
		}
		if ev, err := ParsePullRequest(forge, body); err == nil {
			if ev.check() != nil || !strings.HasSuffix(ev.HeadRefName(), "/head") {
				t.Fatalf("ParsePullRequest accepted a malformed pull request: %+v", ev)
			}
		}
	})
}

// FuzzNormalizeURL: NormalizeURL is idempotent, as its secret lookups rely
// on (a Component's URL and a payload's URL are normalised separately).
func FuzzNormalizeURL(f *testing.F) {
	for _, s := range []string{"https://GitHub.com/Org/Repo.git", "ssh://git@github.com:22/org/repo", "git@github.com:org/repo.git",
		"git://github.com/org/repo/", "file:///srv/git/../x.git", "github.com/org/repo", "http://[::1]:80/a", "a:b/c:d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		n := NormalizeURL(raw)
		if again := NormalizeURL(n); again != n {
			t.Fatalf("NormalizeURL(%q) = %q, but NormalizeURL(%q) = %q", raw, n, n, again)
		}
	})
}
