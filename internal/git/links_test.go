package git

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCheckoutContextThroughLinks: a component's context directory that
// is (or lies below) a symbolic link in the commit is refused: git
// resolves the context in the commit's trees, where a link is a blob, so
// the export can never start outside the repository. Links inside the
// exported tree are written as links, their targets verbatim (readers
// confine them, see internal/tenantfs), and no file of the host is copied
// into the checkout.
func TestCheckoutContextThroughLinks(t *testing.T) {
	t.Parallel()
	secretDir := t.TempDir()
	writeFile(t, filepath.Join(secretDir, "secret.key"), "SECRET-91bd", 0o600)
	r := newRepo(t)
	r.commit("files", map[string]string{"app/main.go": "package main"})
	for name, target := range map[string]string{"ctx": secretDir, "applink": "app", "app/key": filepath.Join(secretDir, "secret.key"),
		"app/keys": secretDir, "app/up": "../../../" + secretDir} {
		if err := os.Symlink(target, filepath.Join(r.dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	head := r.commit("links", nil)
	c := &Cache{Dir: t.TempDir()}
	for _, sub := range []string{"ctx", "applink", "ctx/keys", "applink/main.go", "app/keys", "app/keys/sub"} {
		_, err := c.Checkout(ctx, r.url(), head, t.TempDir(), sub)
		if err == nil || !strings.Contains(err.Error(), "no directory") {
			t.Errorf("context %q: %v, want no directory", sub, err)
		}
	}
	dest := t.TempDir()
	if _, err := c.Checkout(ctx, r.url(), head, dest, "app"); err != nil {
		t.Fatal(err)
	}
	got := readTree(t, dest)
	want := map[string]string{"main.go": "package main", "key": "->" + filepath.Join(secretDir, "secret.key"),
		"keys": "->" + secretDir, "up": "->../../../" + secretDir}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s = %q, want %q", name, got[name], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("checkout holds %v", got)
	}
}

// TestExtractRefusesHardLinks: git has no hard links, so `git archive`
// never writes one; an archive that did (or a device, a FIFO) is refused
// rather than linked to a file of the host.
func TestExtractRefusesHardLinks(t *testing.T) {
	t.Parallel()
	for _, h := range []*tar.Header{
		{Name: "key", Typeflag: tar.TypeLink, Linkname: "/etc/passwd"},
		{Name: "fifo", Typeflag: tar.TypeFifo},
		{Name: "null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3},
	} {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		dest := t.TempDir()
		err := extractTar(&buf, dest, time.Unix(0, 0))
		if err == nil || !strings.Contains(err.Error(), "unexpected archive entry") {
			t.Errorf("%s: %v", h.Name, err)
		}
		if entries, _ := os.ReadDir(dest); len(entries) != 0 {
			t.Errorf("%s: extracted %v", h.Name, entries)
		}
	}
}
