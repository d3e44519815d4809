package webhook

import "testing"

func TestNormalizeURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://github.com/kilnbuild/greet":           "github.com/kilnbuild/greet",
		"https://github.com/kilnbuild/greet.git":       "github.com/kilnbuild/greet",
		"https://github.com/KilnBuild/Greet.git/":      "github.com/kilnbuild/greet",
		"  https://GitHub.com/kilnbuild/greet  ":       "github.com/kilnbuild/greet",
		"https://user:tok@github.com/kilnbuild/greet":  "github.com/kilnbuild/greet",
		"https://github.com:443/kilnbuild/greet?x=1#y": "github.com/kilnbuild/greet",
		"http://localhost:3000/kilnbuild/greet.git":    "localhost/kilnbuild/greet",
		"git://github.com/kilnbuild/greet.git":         "github.com/kilnbuild/greet",
		"ssh://git@github.com/kilnbuild/greet.git":     "github.com/kilnbuild/greet",
		"ssh://git@gitea.internal:2222/platform/Greet": "gitea.internal/platform/greet",
		"git@github.com:kilnbuild/greet.git":           "github.com/kilnbuild/greet",
		"git@github.com:/kilnbuild/greet.git":          "github.com/kilnbuild/greet",
		"github.com:kilnbuild/greet":                   "github.com/kilnbuild/greet",
		"git@gitlab.com:kiln-team/platform/greet.git":  "gitlab.com/kiln-team/platform/greet",
		"https://gitlab.com/kiln-team/platform/greet":  "gitlab.com/kiln-team/platform/greet",
		"https://github.com/kilnbuild//greet/./":       "github.com/kilnbuild/greet",
		"github.com/kilnbuild/greet":                   "github.com/kilnbuild/greet",
		"https://github.com/kilnbuild/greet.github.io": "github.com/kilnbuild/greet.github.io",
		"https://github.com/kilnbuild/greet.gitx":      "github.com/kilnbuild/greet.gitx",
		"file:///srv/git/Greet.git":                    "file:///srv/git/Greet.git",
		"file:///srv/git//Greet/":                      "file:///srv/git/Greet",
		"":                                             "",
		"http://[::1]:8080/team/Repo.git":              "[::1]/team/repo",
		"git@[::1]:team/repo.git":                      "[::1]/team/repo",
		"https://github.com/a/b.git.git":               "github.com/a/b",
		"https://github.com/a/b.GIT":                   "github.com/a/b",
		"https://host/a/b   /":                         "host/a/b",
		"user@ho st:a/b":                               "ho%20st/a/b",
		"file:///srv/%2541":                            "file:///srv/%2541",
	} {
		got := NormalizeURL(in)
		if got != want {
			t.Errorf("NormalizeURL(%q) = %q; want %q", in, got, want)
		}
		if again := NormalizeURL(got); again != got {
			t.Errorf("NormalizeURL not idempotent on %q: %q", got, again)
		}
	}
}

func TestNormalizeURLKeepsReposApart(t *testing.T) {
	t.Parallel()
	for _, pair := range [][2]string{
		{"https://github.com/a/greet", "https://github.com/b/greet"},
		{"https://github.com/a/greet", "https://gitlab.com/a/greet"},
		{"https://github.com/a/greet", "https://github.com/a/greet2"},
		{"git@github.com:a/b.git", "git@github.com:a/b/c.git"},
	} {
		if NormalizeURL(pair[0]) == NormalizeURL(pair[1]) {
			t.Errorf("%s and %s normalise alike", pair[0], pair[1])
		}
	}
}
