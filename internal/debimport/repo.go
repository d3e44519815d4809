package debimport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/kilnbuild/kiln/internal/debian"
)

// branch is the branch imports are committed to.
const branch = "refs/heads/main"

// zeroID is git's "no object": update-ref's old value for a ref that must
// not exist yet.
const zeroID = "0000000000000000000000000000000000000000"

// gitEnv isolates git from the user's configuration and signs the import
// commits as Kiln.
func gitEnv(extra ...string) []string {
	env := append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "LC_ALL=C",
		"GIT_AUTHOR_NAME=Kiln import", "GIT_AUTHOR_EMAIL=kiln@kiln.invalid",
		"GIT_COMMITTER_NAME=Kiln import", "GIT_COMMITTER_EMAIL=kiln@kiln.invalid")
	return append(env, extra...)
}

// git runs git on the bare repository repo.
func git(ctx context.Context, repo string, args ...string) (string, error) {
	return gitWith(ctx, repo, nil, args...)
}

// gitWith runs git on repo with extra environment variables, hooks and
// signing off.
func gitWith(ctx context.Context, repo string, env []string, args ...string) (string, error) {
	base := []string{"--git-dir=" + repo, "-c", "core.hooksPath=/dev/null", "-c", "commit.gpgsign=false", "-c", "core.autocrlf=false"}
	cmd := exec.CommandContext(ctx, "git", append(base, args...)...)
	cmd.Env = gitEnv(env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// repoState is what a package's repository holds before the import.
type repoState struct {
	head    string // the branch's commit; "" when there is none
	version string // debian/changelog version at head; "" for none
}

// inspectRepo reads the bare repository at repo: its branch and the
// Debian version there.
func inspectRepo(ctx context.Context, repo string) (repoState, error) {
	if _, err := os.Stat(repo); errors.Is(err, os.ErrNotExist) {
		return repoState{}, nil
	}
	if _, err := git(ctx, repo, "rev-parse", "--is-bare-repository"); err != nil {
		return repoState{}, fmt.Errorf("%s exists and is not a git repository: move it away or pass another --dir", repo)
	}
	head, err := git(ctx, repo, "rev-parse", "--verify", "--quiet", branch)
	if err != nil {
		return repoState{}, nil // no commit yet
	}
	st := repoState{head: head}
	log, err := git(ctx, repo, "show", head+":debian/changelog")
	if err != nil {
		return st, nil // not a Debian package (yet)
	}
	entry, err := debian.ParseChangelogHead(strings.NewReader(log))
	if err != nil {
		return st, fmt.Errorf("%s: %s's %w", repo, strings.TrimPrefix(branch, "refs/heads/"), err)
	}
	st.version = entry.Version
	return st, nil
}

// commitTree commits the tree at unpacked on top of the branch (parent
// old, "" for none) and moves the branch and the tag to it with one
// compare-and-swap each, so a crash leaves the repository as it was or
// imported, and a concurrent import of the same package fails instead of
// losing a commit. changed is false when the tree is the parent's.
func commitTree(ctx context.Context, repo, unpacked, old, message, tag string) (commit string, changed bool, err error) {
	if err := initRepo(ctx, repo); err != nil {
		return "", false, err
	}
	tree, err := writeTree(ctx, repo, unpacked)
	if err != nil {
		return "", false, err
	}
	if old != "" {
		if parentTree, err := git(ctx, repo, "rev-parse", old+"^{tree}"); err == nil && parentTree == tree {
			return old, false, nil
		}
	}
	args := []string{"commit-tree", tree, "-m", message}
	if old != "" {
		args = append(args, "-p", old)
	}
	if commit, err = git(ctx, repo, args...); err != nil {
		return "", false, err
	}
	if err := moveBranch(ctx, repo, commit, old); err != nil {
		return "", false, err
	}
	_, err = git(ctx, repo, "update-ref", "refs/tags/"+tag, commit)
	return commit, true, err
}

// moveBranch points the branch at commit if it still is at old.
func moveBranch(ctx context.Context, repo, commit, old string) error {
	if old == "" {
		old = zeroID
	}
	if _, err := git(ctx, repo, "update-ref", "-m", "kiln import", branch, commit, old); err != nil {
		return fmt.Errorf("the branch moved while importing (another import of this package?): %w", err)
	}
	return nil
}

// writeTree stages the directory unpacked in a private index (every
// file, .gitignore or not) and writes its tree.
func writeTree(ctx context.Context, repo, unpacked string) (string, error) {
	index := unpacked + ".index"
	defer os.Remove(index)
	env := []string{"GIT_INDEX_FILE=" + index, "GIT_WORK_TREE=" + unpacked}
	if _, err := gitWith(ctx, repo, env, "-C", unpacked, "add", "--all", "--force", "."); err != nil {
		return "", err
	}
	return gitWith(ctx, repo, env, "write-tree")
}

// initRepo creates the bare repository (default branch main) when it does
// not exist.
func initRepo(ctx context.Context, repo string) error {
	if _, err := os.Stat(filepath.Join(repo, "HEAD")); err == nil {
		return nil
	}
	if err := os.MkdirAll(repo, 0o755); err != nil {
		return err
	}
	_, err := git(ctx, repo, "init", "--quiet", "--bare", "--initial-branch=main")
	return err
}

// versionTag is the DEP-14 tag of a Debian version: debian/1%2.10-3 for
// 1:2.10-3, '~' as '_'.
func versionTag(v string) string {
	r := strings.NewReplacer(":", "%", "~", "_")
	return "debian/" + r.Replace(v)
}
