package webhook

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/internal/golden"
)

// TestParsePushGolden parses each forge's fixture and compares the result
// with testdata/<fixture>.golden (go test -update rewrites them).
func TestParsePushGolden(t *testing.T) {
	t.Parallel()
	for name, forge := range map[string]string{
		"github-push": "github", "github-tag": "github", "github-delete": "github",
		"gitlab-push": "gitlab", "gitlab-tag": "gitlab",
		"forgejo-push": "forgejo", "gitea-push": "gitea",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ev, err := ParsePush(forge, fixture(t, name))
			checkGolden(t, name, ev, err)
		})
	}
}

// checkGolden compares a parsed event, as indented JSON, with
// testdata/<name>.golden (rewritten by go test -update).
func checkGolden(t *testing.T, name string, ev any, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(ev, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden.Check(t, filepath.Join("testdata", name+".golden"), got)
}

func TestParsePushRejects(t *testing.T) {
	t.Parallel()
	repo := `"repository": {"clone_url": "https://github.com/a/b.git"}`
	for body, msg := range map[string]string{
		`{"ref": "refs/heads/main", "after": "` + strings.Repeat("a", 40) + `"`:                     "malformed JSON",
		`{"after": "` + strings.Repeat("a", 40) + `", ` + repo + `}`:                                "push event without ref",
		`{"ref": "refs/heads/main", "after": "` + strings.Repeat("a", 40) + `"}`:                    "push event without repository",
		`{"ref": "refs/heads/main", "after": "HEAD", ` + repo + `}`:                                 `after "HEAD" is not a commit hash`,
		`{"ref": "refs/heads/main", "after": ` + `"` + strings.Repeat("A", 40) + `", ` + repo + `}`: "is not a commit hash",
	} {
		_, err := ParsePush("github", []byte(body))
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParsePush(%s) error = %v; want %q", body, err, msg)
		}
	}
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
