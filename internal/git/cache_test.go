package git

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

var ctx = context.Background()

func TestFetchAndCheckout(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	r.commit("first", map[string]string{"README": "hi\n", "app/main.go": "package main\n"})
	writeFile(t, filepath.Join(r.dir, "app/run.sh"), "#!/bin/sh\n", 0o755)
	if err := os.Symlink("main.go", filepath.Join(r.dir, "app/link")); err != nil {
		t.Fatal(err)
	}
	head := r.commit("Add run.sh\n\nand a link\nto main.go", nil)
	c := &Cache{Dir: t.TempDir()}

	commit, err := c.Fetch(ctx, r.url(), "main")
	if err != nil || commit != head {
		t.Fatalf("Fetch = %q, %v; want %q", commit, err, head)
	}
	dest := filepath.Join(t.TempDir(), "src")
	info, err := c.Checkout(ctx, r.url(), commit, dest, "")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"README": "hi\n", "app/main.go": "package main\n", "app/run.sh": "#!/bin/sh\n", "app/link": "->main.go"}
	if got := readTree(t, dest); !reflect.DeepEqual(got, want) {
		t.Errorf("checked out %v; want %v", got, want)
	}
	if info.Commit != head || info.Tree != r.git("rev-parse", "HEAD^{tree}") || info.Subject != "Add run.sh" {
		t.Errorf("info = %+v", info)
	}
	if fi, err := os.Stat(filepath.Join(dest, "app/run.sh")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("run.sh mode = %v, %v; want 0755", fi.Mode(), err)
	}
	if fi, err := os.Stat(filepath.Join(dest, "README")); err != nil || !fi.ModTime().Equal(info.CommitTime) {
		t.Errorf("README mtime = %v, %v; want the commit time %v", fi.ModTime(), err, info.CommitTime)
	}
}

func TestCheckoutSubdir(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	head := r.commit("first", map[string]string{"README": "hi\n", "svc/api/main.go": "package main\n", "svc/api/x/y": "z"})
	c := &Cache{Dir: t.TempDir()}
	dest := filepath.Join(t.TempDir(), "src")
	info, err := c.Checkout(ctx, r.url(), head, dest, "./svc/api/") // not fetched yet: Checkout fetches
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"main.go": "package main\n", "x/y": "z"}
	if got := readTree(t, dest); !reflect.DeepEqual(got, want) {
		t.Errorf("checked out %v; want %v", got, want)
	}
	if info.Subdir != "svc/api" || info.Tree != r.git("rev-parse", "HEAD:svc/api") {
		t.Errorf("info = %+v; want the tree of svc/api", info)
	}
	if _, err := os.Stat(filepath.Join(dest, ".git")); !os.IsNotExist(err) {
		t.Errorf(".git in the checkout: %v", err)
	}
}

// TestTreeHashStability is what early cutoff relies on: the tree hash of a
// sub-directory depends on its content only.
func TestTreeHashStability(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	c1 := r.commit("one", map[string]string{"svc/a": "1", "other": "1"})
	c2 := r.commit("elsewhere", map[string]string{"other": "2"})
	c3 := r.commit("inside", map[string]string{"svc/a": "2"})
	c4 := r.commit("revert", map[string]string{"svc/a": "1"})
	c := &Cache{Dir: t.TempDir()}
	if _, err := c.Fetch(ctx, r.url(), "main"); err != nil {
		t.Fatal(err)
	}
	tree := func(commit string) string {
		t.Helper()
		info, err := c.Inspect(ctx, r.url(), commit, "svc")
		if err != nil {
			t.Fatal(err)
		}
		return info.Tree
	}
	t1, t2, t3, t4 := tree(c1), tree(c2), tree(c3), tree(c4)
	if t1 != t2 || t1 != t4 {
		t.Errorf("same content, different tree hashes: %s %s %s", t1, t2, t4)
	}
	if t3 == t1 {
		t.Errorf("changed content, same tree hash %s", t3)
	}
	if root1, _ := c.Inspect(ctx, r.url(), c1, ""); root1.Tree == tree(c1) || root1.Tree != r.git("rev-parse", c1+"^{tree}") {
		t.Errorf("root tree %s; want the commit's tree", root1.Tree)
	}
}

func TestFetchIsIncremental(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	first := r.commit("first", map[string]string{"a": "1"})
	c := &Cache{Dir: t.TempDir()}
	if got, err := c.Fetch(ctx, r.url(), "main"); err != nil || got != first {
		t.Fatalf("Fetch = %q, %v; want %q", got, err, first)
	}
	second := r.commit("second", map[string]string{"a": "2"})
	if got, err := c.Fetch(ctx, r.url(), "main"); err != nil || got != second {
		t.Fatalf("Fetch after a commit = %q, %v; want %q", got, err, second)
	}
	// Commits in the mirror are served without the remote.
	if err := os.RemoveAll(r.dir); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Fetch(ctx, r.url(), first); err != nil || got != first {
		t.Errorf("Fetch of a mirrored commit without remote = %q, %v", got, err)
	}
	if _, err := c.Checkout(ctx, r.url(), second, t.TempDir(), ""); err != nil {
		t.Errorf("Checkout without remote: %v", err)
	}
	if _, err := c.Fetch(ctx, r.url(), "main"); !errors.Is(err, ErrRepoNotFound) {
		t.Errorf("Fetch of a branch without remote: %v; want ErrRepoNotFound", err)
	}
}

func TestFetchTagAndOldCommit(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	first := r.commit("first", map[string]string{"a": "1"})
	r.git("tag", "-a", "v1", "-m", "v1")
	middle := r.commit("middle", map[string]string{"a": "2"})
	r.commit("last", map[string]string{"a": "3"})
	c := &Cache{Dir: t.TempDir()}
	if got, err := c.Fetch(ctx, r.url(), "v1"); err != nil || got != first {
		t.Errorf("Fetch(v1) = %q, %v; want %q", got, err, first)
	}
	if got, err := c.Fetch(ctx, r.url(), middle); err != nil || got != middle {
		t.Errorf("Fetch(middle commit) = %q, %v; want %q", got, err, middle)
	}
	missing := strings.Repeat("ab", 20)
	if _, err := c.Fetch(ctx, r.url(), missing); !errors.Is(err, ErrRefNotFound) {
		t.Errorf("Fetch(unknown commit) error = %v; want ErrRefNotFound", err)
	}
}

func TestShallowFetch(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	r.commit("first", map[string]string{"a": "1"})
	head := r.commit("second", map[string]string{"a": "2"})
	c := &Cache{Dir: t.TempDir(), Depth: 1}
	if got, err := c.Fetch(ctx, r.url(), "main"); err != nil || got != head {
		t.Fatalf("Fetch = %q, %v", got, err)
	}
	dest := t.TempDir()
	if _, err := c.Checkout(ctx, r.url(), head, dest, ""); err != nil {
		t.Fatal(err)
	}
	if got := readTree(t, dest); got["a"] != "2" {
		t.Errorf("checked out %v", got)
	}
	shallow, err := os.ReadFile(filepath.Join(c.MirrorDir(r.url()), "shallow"))
	if err != nil || strings.TrimSpace(string(shallow)) != head {
		t.Errorf("mirror shallow file = %q, %v; want the head only", shallow, err)
	}
}

func TestConcurrentFetch(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	head := r.commit("first", map[string]string{"a": "1", "sub/b": "2"})
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &Cache{Dir: dir} // separate values share the mirror and its lock
			got, err := c.Fetch(ctx, r.url(), "main")
			if err == nil && got != head {
				err = errors.New("fetched " + got)
			}
			if err == nil {
				_, err = c.Checkout(ctx, r.url(), head, filepath.Join(dir, "out", string(rune('a'+i))), "sub")
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "mirrors"))
	if len(entries) != 1 {
		t.Errorf("mirrors: %d entries; want 1", len(entries))
	}
}

func TestCheckoutErrors(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	head := r.commit("first", map[string]string{"a": "1", "sub/b": "2"})
	c := &Cache{Dir: t.TempDir()}
	full := t.TempDir()
	writeFile(t, filepath.Join(full, "x"), "x", 0o644)
	for _, tc := range []struct{ commit, dest, subdir, msg string }{
		{"main", t.TempDir(), "", `"main" is not a full commit hash`},
		{head, t.TempDir(), "nope", `no directory "nope" in the commit`},
		{head, t.TempDir(), "a", `no directory "a" in the commit`},
		{head, t.TempDir(), "../x", `must not contain ..`},
		{head, t.TempDir(), "/sub", `must be a relative path`},
		{head, full, "", "destination is not empty"},
		{strings.Repeat("0", 40), t.TempDir(), "", "no such branch, tag or commit"},
	} {
		_, err := c.Checkout(ctx, r.url(), tc.commit, tc.dest, tc.subdir)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Checkout(%s, %q) error = %v; want %q", tc.commit, tc.subdir, err, tc.msg)
		}
	}
}

// A repository's .gitattributes must not make the export differ from the
// tree its hash names.
func TestCheckoutIgnoresAttributes(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	files := map[string]string{
		".gitattributes": "secret export-ignore\nversion export-subst\n*.txt text eol=crlf\n",
		"secret":         "kept\n",
		"version":        "$Format:%H$\n",
		"notes.txt":      "line1\nline2\n",
	}
	head := r.commit("attrs", files)
	c := &Cache{Dir: t.TempDir()}
	dest := t.TempDir()
	if _, err := c.Checkout(ctx, r.url(), head, dest, ""); err != nil {
		t.Fatal(err)
	}
	if got := readTree(t, dest); !reflect.DeepEqual(got, files) {
		t.Errorf("checked out %q; want %q", got, files)
	}
}

func TestTreeInfo(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	r.commit("zero", nil)
	head := r.commit("Fix the\nthing\n\nBody.", map[string]string{"a": "1"})
	c := &Cache{Dir: t.TempDir()}
	info, err := c.Inspect(ctx, r.url(), head, "")
	if err != nil {
		t.Fatal(err)
	}
	if info.Subject != "Fix the thing" || info.SourceDateEpoch() != "1700000120" {
		t.Errorf("info = %+v, epoch %s", info, info.SourceDateEpoch())
	}
	if _, off := info.AuthorTime.Zone(); off != 3600 || !info.AuthorTime.Equal(time.Unix(1700000120, 0)) {
		t.Errorf("author time = %v; want 1700000120 +0100", info.AuthorTime)
	}
}

func TestMirrorPerCredentials(t *testing.T) {
	t.Parallel()
	anon := &Cache{Dir: "/c"}
	tok := &Cache{Dir: "/c", Credentials: Credentials{Token: "t"}}
	other := &Cache{Dir: "/c", Credentials: Credentials{Token: "u"}}
	u := "https://example.com/a/b.git"
	if anon.MirrorDir(u) == tok.MirrorDir(u) || tok.MirrorDir(u) == other.MirrorDir(u) {
		t.Errorf("credentials share a mirror: %s %s %s", anon.MirrorDir(u), tok.MirrorDir(u), other.MirrorDir(u))
	}
	sum := sha256.Sum256([]byte(u))
	if want := "/c/mirrors/" + hex.EncodeToString(sum[:]) + ".git"; anon.MirrorDir(u) != want {
		t.Errorf("mirror dir %s; want %s", anon.MirrorDir(u), want)
	}
}

func TestFetchBadURL(t *testing.T) {
	t.Parallel()
	c := &Cache{Dir: t.TempDir()}
	missing := "file://" + t.TempDir() + "/nope.git"
	_, err := c.Fetch(ctx, missing, "main")
	want := "resolving main of " + missing + ": repository not found"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v; want %q", err, want)
	}
}

// A submodule (gitlink) is exported as an empty directory: Kiln does not
// fetch submodules.
func TestCheckoutSubmoduleIsEmptyDir(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	first := r.commit("first", map[string]string{"a": "1"})
	r.git("update-index", "--add", "--cacheinfo", "160000,"+first+",vendor/lib")
	r.git("commit", "--quiet", "-m", "submodule")
	c := &Cache{Dir: t.TempDir()}
	head, err := c.Fetch(ctx, r.url(), "main")
	if err != nil {
		t.Fatal(err)
	}
	dest := t.TempDir()
	if _, err := c.Checkout(ctx, r.url(), head, dest, ""); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(dest, "vendor/lib"))
	if err != nil || len(entries) != 0 {
		t.Errorf("vendor/lib: %v, %v; want an empty directory", entries, err)
	}
}
