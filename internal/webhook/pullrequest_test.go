package webhook

import (
	"bytes"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestParsePullRequestGolden parses each forge's pull request fixture and
// compares the result with testdata/<fixture>.golden (go test -update
// rewrites them).
func TestParsePullRequestGolden(t *testing.T) {
	t.Parallel()
	for name, forge := range map[string]string{
		"github-pull-request": "github", "gitlab-merge-request": "gitlab",
		"forgejo-pull-request": "forgejo", "gitea-pull-request": "gitea",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ev, err := ParsePullRequest(forge, fixture(t, name))
			checkGolden(t, name, ev, err)
		})
	}
}

func TestParsePullRequestRejects(t *testing.T) {
	t.Parallel()
	repo := `"repository": {"clone_url": "https://github.com/a/b.git"}`
	sha := strings.Repeat("a", 40)
	pr := func(number, head, base, sha string) string {
		return `{"action": "opened", "number": ` + number + `, "pull_request": {"head": {"ref": "` + head + `", "sha": "` + sha +
			`"}, "base": {"ref": "` + base + `"}}, ` + repo + `}`
	}
	for body, msg := range map[string]string{
		`{"action": "opened", ` + repo:                                "malformed JSON",
		`{"action": "opened", "number": 1, ` + repo + `}`:             "without pull request",
		pr("0", "feature", "main", sha):                               "without a number",
		pr("1", "", "main", sha):                                      "without source or target branch",
		pr("1", "feature", "", sha):                                   "without source or target branch",
		pr("1", "feature", "main", "HEAD"):                            `head "HEAD" is not a commit hash`,
		strings.Replace(pr("1", "f", "main", sha), repo, `"x": 1`, 1): "without repository",
	} {
		_, err := ParsePullRequest("github", []byte(body))
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParsePullRequest(%s) error = %v; want %q", body, err, msg)
		}
	}
	// A GitLab merge request hook is read from object_attributes only.
	if _, err := ParsePullRequest("gitlab", []byte(pr("1", "feature", "main", sha))); err == nil ||
		!strings.Contains(err.Error(), "without pull request") {
		t.Errorf("GitHub-shaped body as GitLab: %v", err)
	}
}

func TestHeadRefName(t *testing.T) {
	t.Parallel()
	for forge, want := range map[string]string{"github": "refs/pull/42/head", "forgejo": "refs/pull/42/head",
		"gitea": "refs/pull/42/head", "gitlab": "refs/merge-requests/42/head"} {
		if got := (PullRequestEvent{Forge: forge, Number: 42}).HeadRefName(); got != want {
			t.Errorf("%s: %s; want %s", forge, got, want)
		}
	}
}

// TestAcceptsSignedPullRequests sends each forge's pull request fixture,
// signed: it is passed on with its head, branches and verifying key.
func TestAcceptsSignedPullRequests(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ forge, event, fixture, head, base, verified string }{
		{"github", "pull_request", "github-pull-request", "9f3e2d1c0b4a59687766554433221100ffeeddcc", "main", "team-a/greet"},
		{"gitlab", "Merge Request Hook", "gitlab-merge-request", "7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f", "main", "team-a/greet"},
		{"forgejo", "pull_request", "forgejo-pull-request", "3c1d5e7f9a0b2c4d6e8f0a1b3c5d7e9f1a2b3c4d", "main", "team-a/greet"},
		{"gitea", "pull_request", "gitea-pull-request", "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567", "release/1.x", "ops/greet"},
	} {
		rec := newRecorder()
		code, msg := signed(t, tc.forge, tc.event, tc.fixture, secret).send(t, rec.handler())
		if code != http.StatusAccepted || msg != "accepted" {
			t.Errorf("%s: %d %q; want 202 accepted", tc.fixture, code, msg)
			continue
		}
		if len(rec.prs) != 1 || len(rec.pushes) != 0 {
			t.Fatalf("%s: passed on %d pull requests and %d pushes; want 1 and 0", tc.fixture, len(rec.prs), len(rec.pushes))
		}
		ev := rec.prs[0]
		if ev.Forge != tc.forge || ev.HeadSHA != tc.head || ev.BaseRef != tc.base || ev.Delivery != "d-1" ||
			!slices.Equal(ev.VerifiedBy, []string{tc.verified}) {
			t.Errorf("%s: passed on %+v", tc.fixture, ev)
		}
	}
}

func TestPullRequestSignatureRequired(t *testing.T) {
	t.Parallel()
	tampered := signed(t, "github", "pull_request", "github-pull-request", secret)
	tampered.body = bytes.Replace(tampered.body, []byte(`"ref": "main"`), []byte(`"ref": "prod"`), 1)
	for name, d := range map[string]hook{
		"github wrong secret": signed(t, "github", "pull_request", "github-pull-request", "guess"),
		"github tampered":     tampered,
		"gitlab wrong token":  signed(t, "gitlab", "Merge Request Hook", "gitlab-merge-request", "guess"),
		"forgejo wrong":       signed(t, "forgejo", "pull_request", "forgejo-pull-request", "guess"),
	} {
		rec := newRecorder()
		code, msg := d.send(t, rec.handler())
		if code != http.StatusUnauthorized || !strings.Contains(msg, "signature does not match") {
			t.Errorf("%s: %d %q; want 401", name, code, msg)
		}
		if len(rec.prs) != 0 {
			t.Errorf("%s: passed on %+v", name, rec.prs)
		}
	}
}

// withAction is a signed hook of fixture with its action replaced.
func withAction(t *testing.T, forge, event, fixture, from, to string) hook {
	d := signed(t, forge, event, fixture, secret)
	d.body = bytes.Replace(d.body, []byte(`"action": "`+from+`"`), []byte(`"action": "`+to+`"`), 1)
	sig := Sign(d.body, []byte(secret))
	switch forge {
	case "github":
		d.headers["X-Hub-Signature-256"] = "sha256=" + sig
	case "forgejo":
		d.headers["X-Forgejo-Signature"], d.headers["X-Gitea-Signature"] = sig, sig
	case "gitea":
		d.headers["X-Gitea-Signature"] = sig
	}
	return d
}

func TestPullRequestActions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d    hook
		code int
		msg  string
	}{
		{withAction(t, "github", "pull_request", "github-pull-request", "synchronize", "opened"), 202, "accepted"},
		{withAction(t, "github", "pull_request", "github-pull-request", "synchronize", "reopened"), 202, "accepted"},
		{withAction(t, "github", "pull_request", "github-pull-request", "synchronize", "closed"), 200, `ignored: pull request action "closed"`},
		{withAction(t, "github", "pull_request", "github-pull-request", "synchronize", "labeled"), 200, `ignored: pull request action "labeled"`},
		{withAction(t, "forgejo", "pull_request", "forgejo-pull-request", "opened", "synchronized"), 202, "accepted"},
		{withAction(t, "gitea", "pull_request", "gitea-pull-request", "synchronized", "edited"), 200, `ignored: pull request action "edited"`},
		{withAction(t, "gitlab", "Merge Request Hook", "gitlab-merge-request", "update", "open"), 202, "accepted"},
		{withAction(t, "gitlab", "Merge Request Hook", "gitlab-merge-request", "update", "reopen"), 202, "accepted"},
		{withAction(t, "gitlab", "Merge Request Hook", "gitlab-merge-request", "update", "merge"), 200, `ignored: pull request action "merge"`},
		{withAction(t, "gitlab", "Merge Request Hook", "gitlab-merge-request", "update", "approved"), 200, `ignored: pull request action "approved"`},
		{withAction(t, "github", "pull_request", "github-pull-request", "synchronize", "open"), 200, `ignored: pull request action "open"`},
	} {
		rec := newRecorder()
		code, msg := tc.d.send(t, rec.handler())
		if code != tc.code || msg != tc.msg {
			t.Errorf("%s %s: %d %q; want %d %q", tc.d.path, tc.d.body[:40], code, msg, tc.code, tc.msg)
		}
		if want := map[int]int{202: 1, 200: 0}[tc.code]; len(rec.prs) != want {
			t.Errorf("%s: %d pull requests passed on; want %d", tc.msg, len(rec.prs), want)
		}
	}
}

func TestPullRequestsIgnoredWithoutHandler(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	h := rec.handler()
	h.OnPullRequest = nil
	code, msg := signed(t, "github", "pull_request", "github-pull-request", secret).send(t, h)
	if code != http.StatusOK || msg != "ignored: pull requests are not built here" {
		t.Errorf("%d %q; want 200 ignored", code, msg)
	}
	// Still verified first: a forged delivery is refused, not ignored.
	if code, _ := signed(t, "github", "pull_request", "github-pull-request", "guess").send(t, h); code != http.StatusUnauthorized {
		t.Errorf("forged pull request without handler: %d; want 401", code)
	}
	if len(rec.pushes) != 0 {
		t.Errorf("passed on %+v", rec.pushes)
	}
}

func TestPullRequestErrors(t *testing.T) {
	t.Parallel()
	noHead := withAction(t, "github", "pull_request", "github-pull-request", "synchronize", "opened")
	noHead.body = bytes.ReplaceAll(noHead.body, []byte("9f3e2d1c0b4a59687766554433221100ffeeddcc"), []byte("not-a-commit"))
	noHead.headers["X-Hub-Signature-256"] = "sha256=" + Sign(noHead.body, []byte(secret))
	rec := newRecorder()
	if code, msg := noHead.send(t, rec.handler()); code != http.StatusBadRequest || !strings.Contains(msg, "is not a commit hash") {
		t.Errorf("head not a commit: %d %q; want 400", code, msg)
	}
	rec.pushErr = errors.New("queue full")
	if code, msg := signed(t, "github", "pull_request", "github-pull-request", secret).send(t, rec.handler()); code != http.StatusInternalServerError || msg != "internal error" {
		t.Errorf("OnPullRequest fails: %d %q; want 500", code, msg)
	}
}
