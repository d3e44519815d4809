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

// gitEnv isolates git from the user's configuration and signs the import
// commits as Kiln.
func gitEnv() []string {
	return append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "LC_ALL=C",
		"GIT_AUTHOR_NAME=Kiln import", "GIT_AUTHOR_EMAIL=kiln@kiln.invalid",
		"GIT_COMMITTER_NAME=Kiln import", "GIT_COMMITTER_EMAIL=kiln@kiln.invalid")
}

// git runs git in dir with hooks, signing and the user's global and
// system configuration out of the way.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	base := []string{"-c", "core.hooksPath=/dev/null", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", "-c", "core.autocrlf=false"}
	cmd := exec.CommandContext(ctx, "git", append(base, args...)...)
	cmd.Dir = dir
	cmd.Env = gitEnv()
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
	exists  bool
	version string // debian/changelog version at HEAD; "" for none
}

// inspectRepo reads the repository at dir: whether it exists, is clean,
// and the version of its HEAD.
func inspectRepo(ctx context.Context, dir string) (repoState, error) {
	if _, err := os.Stat(filepath.Join(dir, ".git")); errors.Is(err, os.ErrNotExist) {
		if entries, _ := os.ReadDir(dir); len(entries) > 0 {
			return repoState{}, fmt.Errorf("%s exists and is not a git repository: move it away or pass another --dir", dir)
		}
		return repoState{}, nil
	}
	status, err := git(ctx, dir, "status", "--porcelain", "--ignored=no")
	if err != nil {
		return repoState{}, err
	}
	if status != "" {
		return repoState{}, fmt.Errorf("%s has uncommitted changes: commit or discard them first", dir)
	}
	st := repoState{exists: true}
	log, err := git(ctx, dir, "show", "HEAD:debian/changelog")
	if err != nil {
		return st, nil // an empty repository, or no Debian package yet
	}
	head, err := debian.ParseChangelogHead(strings.NewReader(log))
	if err != nil {
		return st, fmt.Errorf("%s: HEAD's %w", dir, err)
	}
	st.version = head.Version
	return st, nil
}

// commitTree replaces the repository's tree at dir with unpacked (moved,
// same file system) and commits it; changed is false when the tree was
// already the same.
func commitTree(ctx context.Context, dir, unpacked, message, tag string) (commit string, changed bool, err error) {
	if err := initRepo(ctx, dir); err != nil {
		return "", false, err
	}
	if err := replaceTree(dir, unpacked); err != nil {
		return "", false, fmt.Errorf("replacing the tree of %s: %w", dir, err)
	}
	if _, err := git(ctx, dir, "add", "--all", "--force", "."); err != nil {
		return "", false, err
	}
	if _, err := git(ctx, dir, "diff", "--cached", "--quiet"); err == nil && hasHead(ctx, dir) {
		head, err := git(ctx, dir, "rev-parse", "HEAD")
		return head, false, err
	}
	if _, err := git(ctx, dir, "commit", "--quiet", "--allow-empty", "-m", message); err != nil {
		return "", false, err
	}
	if _, err := git(ctx, dir, "tag", "--force", tag); err != nil {
		return "", false, err
	}
	head, err := git(ctx, dir, "rev-parse", "HEAD")
	return head, true, err
}

// initRepo creates the repository (branch main) when it does not exist.
func initRepo(ctx context.Context, dir string) error {
	if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	_, err := git(ctx, dir, "init", "--quiet", "--initial-branch=main")
	return err
}

// hasHead says whether the repository has a commit.
func hasHead(ctx context.Context, dir string) bool {
	_, err := git(ctx, dir, "rev-parse", "--verify", "--quiet", "HEAD")
	return err == nil
}

// replaceTree removes everything in dir but .git and moves the entries of
// src into it.
func replaceTree(dir, src string) error {
	old, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range old {
		if e.Name() != ".git" {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == ".git" {
			return fmt.Errorf("the source package contains a .git directory")
		}
		if err := os.Rename(filepath.Join(src, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// versionTag is the DEP-14 tag of a Debian version: debian/1%2.10-3 for
// 1:2.10-3, '~' as '_'.
func versionTag(v string) string {
	r := strings.NewReplacer(":", "%", "~", "_")
	return "debian/" + r.Replace(v)
}
