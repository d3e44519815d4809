package git

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Cache keeps one bare mirror per repository under Dir and exports trees
// from it. Mirrors are updated incrementally: a fetch downloads only the
// objects the mirror lacks, and none at all when the commit is already
// there. A Cache is safe for concurrent use, also by several Cache values
// with the same Dir in one process (fetches of one repository are
// serialised, exports share the mirror).
//
// Mirrors are keyed by URL and credentials: a mirror filled with a token is
// never read by a caller without that token. Use one Cache value per set of
// credentials (Cache values are cheap; copy one and set Credentials).
type Cache struct {
	// Dir holds mirrors/ (one <sha256 of URL>.git per repository) and
	// home/ (git's HOME: the ssh known_hosts file, the askpass helper).
	Dir string
	// Credentials reach private repositories; zero for anonymous access.
	Credentials Credentials
	// Depth > 0 makes fetches shallow (that many commits); 0 fetches the
	// full history of each fetched ref.
	Depth int
}

// mirrorLocks serialises writers (fetches) of one mirror directory and
// lets readers (exports) share it: absolute path → *sync.RWMutex.
var mirrorLocks sync.Map

type mirror struct {
	dir   string
	r     runner
	mu    *sync.RWMutex
	depth int
}

// MirrorDir is the directory of the mirror of url (with c's credentials).
func (c *Cache) MirrorDir(url string) string {
	key := url
	if fp := c.Credentials.fingerprint(); fp != "" {
		key += "\x00" + fp
	}
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(c.Dir, "mirrors", hex.EncodeToString(sum[:])+".git")
}

func (c *Cache) open(url string) (*mirror, error) {
	if c.Dir == "" {
		return nil, errors.New("git cache has no directory")
	}
	dir, err := filepath.Abs(c.MirrorDir(url))
	if err != nil {
		return nil, fmt.Errorf("locating mirror: %w", err)
	}
	r, err := newRunner(url, Options{Credentials: c.Credentials, Home: filepath.Join(c.Dir, "home")})
	if err != nil {
		return nil, err
	}
	mu, _ := mirrorLocks.LoadOrStore(dir, new(sync.RWMutex))
	return &mirror{dir: dir, r: r, mu: mu.(*sync.RWMutex), depth: c.Depth}, nil
}

// Fetch brings ref (a branch, tag, full ref name, "HEAD" or full commit
// hash; see Resolve) of the repository at url into its mirror and returns
// its commit. When the commit is already in the mirror, only `git
// ls-remote` talks to the remote.
func (c *Cache) Fetch(ctx context.Context, url, ref string) (string, error) {
	m, err := c.open(url)
	if err != nil {
		return "", fmt.Errorf("fetching %s of %s: %w", ref, Redact(url), err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.ensure(ctx); err != nil {
		return "", fmt.Errorf("fetching %s of %s: %w", ref, Redact(url), err)
	}
	return m.fetch(ctx, ref)
}

// fetch runs with the write lock held.
func (m *mirror) fetch(ctx context.Context, ref string) (string, error) {
	fullRef, commit, err := m.r.resolve(ctx, m.dir, ref)
	if err != nil {
		return "", err
	}
	if m.has(ctx, commit) {
		return commit, nil
	}
	dst := fullRef
	switch fullRef {
	case "":
		fullRef, dst = commit, "refs/kiln/commits/"+commit
	case "HEAD":
		dst = "refs/kiln/HEAD"
	}
	if err := m.fetchRefspec(ctx, "+"+fullRef+":"+dst); err != nil {
		return "", fmt.Errorf("fetching %s of %s: %w", ref, Redact(m.r.url), err)
	}
	out, err := m.r.run(ctx, m.dir, nil, "rev-parse", "--verify", "--quiet", dst+"^{commit}")
	if err != nil {
		return "", fmt.Errorf("fetching %s of %s: %s is not a commit: %w", ref, Redact(m.r.url), fullRef, err)
	}
	return strings.TrimSpace(string(out)), nil
}

func (m *mirror) fetchRefspec(ctx context.Context, refspec string) error {
	args := []string{"-c", "gc.autoDetach=false", "fetch", "--quiet", "--no-tags",
		"--no-write-fetch-head", "--no-recurse-submodules"}
	if m.depth > 0 {
		args = append(args, "--depth="+strconv.Itoa(m.depth))
	}
	_, err := m.r.run(ctx, m.dir, nil, append(args, "--", m.r.url, refspec)...)
	return err
}

// has reports whether the mirror holds commit.
func (m *mirror) has(ctx context.Context, commit string) bool {
	_, err := m.r.run(ctx, m.dir, nil, "cat-file", "-e", commit+"^{commit}")
	return err == nil
}

// exportAttributes override a repository's own .gitattributes (info/
// attributes wins over in-tree files), so `git archive` writes every blob
// byte for byte: no export-subst or export-ignore, no end-of-line, ident
// or filter conversion. The exported tree then is exactly the tree hash.
const exportAttributes = "* -export-subst -export-ignore -text -eol -ident -filter -working-tree-encoding\n"

// ensure creates the bare mirror if it does not exist yet, atomically.
func (m *mirror) ensure(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(m.dir, "HEAD")); err == nil {
		return nil
	}
	parent := filepath.Dir(m.dir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return fmt.Errorf("creating mirror directory: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, ".init-*")
	if err != nil {
		return fmt.Errorf("creating mirror: %w", err)
	}
	defer os.RemoveAll(tmp)
	if _, err := m.r.run(ctx, "", nil, "init", "--quiet", "--bare", "--", tmp); err != nil {
		return fmt.Errorf("creating mirror: %w", err)
	}
	files := map[string]string{
		"info/attributes": exportAttributes,
		"description":     Redact(m.r.url) + "\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(tmp, name), []byte(content), 0o600); err != nil {
			return fmt.Errorf("creating mirror: %w", err)
		}
	}
	if err := os.Rename(tmp, m.dir); err != nil && !existsDir(m.dir) {
		return fmt.Errorf("creating mirror: %w", err)
	}
	return nil
}

func existsDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
