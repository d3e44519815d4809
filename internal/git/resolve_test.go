package git

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestResolve(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	first := r.commit("first", map[string]string{"a": "1"})
	r.git("tag", "light")
	r.git("tag", "-a", "annotated", "-m", "release")
	r.git("branch", "release/main") // suffix-matches "main" in ls-remote
	r.git("tag", "feature")         // same name as a branch below
	second := r.commit("second", map[string]string{"a": "2"})
	r.git("branch", "feature")
	opts := Options{Home: t.TempDir()}
	for _, tc := range []struct{ ref, want string }{
		{"main", second},
		{"refs/heads/main", second},
		{"", second},
		{"HEAD", second},
		{"light", first},
		{"annotated", first}, // peeled to the commit, not the tag object
		{"refs/tags/annotated", first},
		{"release/main", first},
		{"feature", second}, // the branch wins over the tag
		{"refs/tags/feature", first},
		{strings.ToUpper(first), first}, // a hash is returned without asking
	} {
		got, err := Resolve(context.Background(), r.url(), tc.ref, opts)
		if err != nil || got != tc.want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", tc.ref, got, err, tc.want)
		}
	}
}

func TestResolveErrors(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	r.commit("first", map[string]string{"a": "1"})
	missing := "file://" + t.TempDir() + "/nope"
	opts := Options{Home: t.TempDir()}
	for _, tc := range []struct {
		url, ref, msg string
		is            error
	}{
		{missing, "main", "resolving main of " + missing + ": repository not found", ErrRepoNotFound},
		{r.url(), "nope", "resolving nope of " + r.url() + ": no such branch, tag or commit", ErrRefNotFound},
		{r.url(), "-x", `resolving -x of ` + r.url() + `: "-x" is not a valid branch, tag or commit`, nil},
		{"--upload-pack=touch /tmp/x", "main", "resolving main of --upload-pack=touch /tmp/x: not a repository URL", nil},
		{"http://127.0.0.1:1/x.git", "main", "resolving main of http://127.0.0.1:1/x.git: host unreachable: ", ErrUnreachable},
		{"ext::sh%-c%touch%/tmp/kiln-pwned", "main", "resolving main of ext::sh%-c%touch%/tmp/kiln-pwned: transport 'ext' not allowed", nil},
		{"https://tok@127.0.0.1:1/x.git", "main", "resolving main of https://xxxxx@127.0.0.1:1/x.git: host unreachable", ErrUnreachable},
	} {
		_, err := Resolve(context.Background(), tc.url, tc.ref, opts)
		if err == nil || !strings.HasPrefix(err.Error(), tc.msg) {
			t.Errorf("Resolve(%q, %q) error = %v; want prefix %q", tc.url, tc.ref, err, tc.msg)
		}
		if tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("Resolve(%q, %q) error = %v; want errors.Is %v", tc.url, tc.ref, err, tc.is)
		}
	}
}

func TestResolveHonoursContext(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	r.commit("first", nil)
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, err := Resolve(ctx, r.url(), "main", Options{Home: t.TempDir()})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v; want context.DeadlineExceeded", err)
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		stderr, msg string
		is          error
	}{
		{"remote: Repository not found.\nfatal: repository 'https://github.com/a/b/' not found\n",
			"repository not found", ErrRepoNotFound},
		{"fatal: could not read Username for 'https://github.com': terminal prompts disabled\n",
			"authentication failed: the server asks for credentials and none are configured (private or non-existent repository)", ErrAuth},
		{"remote: HTTP Basic: Access denied\nfatal: Authentication failed for 'https://gitlab.com/a/b.git/'\n",
			"authentication failed: Authentication failed for 'https://gitlab.com/a/b.git/'", ErrAuth},
		{"git@github.com: Permission denied (publickey).\nfatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights\nand the repository exists.\n",
			"authentication failed: Could not read from remote repository.", ErrAuth},
		{"Host key verification failed.\nfatal: Could not read from remote repository.\n",
			"authentication failed: the ssh host key does not match known_hosts", ErrAuth},
		{"ssh: Could not resolve hostname nowhere: Name or service not known\nfatal: Could not read from remote repository.\n",
			"host unreachable: Could not read from remote repository.", ErrUnreachable},
		{"fatal: unable to access 'https://nowhere/x/': Could not resolve host: nowhere\n",
			"host unreachable: unable to access 'https://nowhere/x/': Could not resolve host: nowhere", ErrUnreachable},
		{"fatal: couldn't find remote ref refs/heads/x\n", "no such branch, tag or commit", ErrRefNotFound},
		{"warning: odd\nfatal: something new\n", "something new", nil},
	} {
		err := classify(tc.stderr)
		if err.Error() != tc.msg || (tc.is != nil && !errors.Is(err, tc.is)) {
			t.Errorf("classify(%q) = %v; want %q (%v)", tc.stderr, err, tc.msg, tc.is)
		}
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://github.com/a/b.git":           "https://github.com/a/b.git",
		"https://ghp_secret@github.com/a/b":    "https://xxxxx@github.com/a/b",
		"https://user:ghp_secret@github.com/a": "https://xxxxx@github.com/a",
		"ssh://git@github.com/a/b.git":         "ssh://git@github.com/a/b.git",
		"ssh://git:pw@host/a/b.git":            "ssh://git:xxxxx@host/a/b.git",
		"git@github.com:a/b.git":               "git@github.com:a/b.git",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q; want %q", in, got, want)
		}
	}
}
