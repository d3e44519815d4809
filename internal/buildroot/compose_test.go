package buildroot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/kilnbuild/kiln/internal/sandbox"
)

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestKeyIsContentAddressed(t *testing.T) {
	a := Package{Name: "a", Version: "1", Arch: "all", File: "a.deb", SHA256: sum("a"), URL: "http://x/a.deb"}
	b := Package{Name: "b", Version: "2", File: "b.deb", SHA256: sum("b"), Artifact: "r/b@sha256:1"}
	k := Key("sha256:base", []Package{a, b})
	moved := a
	moved.URL, moved.Path = "http://mirror/a.deb", "/somewhere/a.deb"
	if Key("sha256:base", []Package{b, moved}) != k {
		t.Fatal("the key depends on the order or the origin of the packages")
	}
	changed := a
	changed.SHA256 = sum("a2")
	for name, other := range map[string]string{
		"base":    Key("sha256:other", []Package{a, b}),
		"digest":  Key("sha256:base", []Package{changed, b}),
		"version": Key("sha256:base", []Package{{Name: "a", Version: "1.1", Arch: "all", SHA256: a.SHA256}, b}),
		"set":     Key("sha256:base", []Package{a}),
	} {
		if other == k {
			t.Errorf("a different %s gives the same key", name)
		}
	}
}

// The composition tests run in the real sandbox on a busybox root
// filesystem with a toy format: "downloading" writes the package's name,
// "installing" appends each file to /var/lib/pkgs/installed.
func requireSandbox(t *testing.T) sandbox.Runner {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	_, berr := exec.LookPath("bwrap")
	if err != nil || berr != nil || exec.Command("ldd", bb).Run() == nil {
		if os.Getenv("CI") != "" || os.Getenv("KILN_REQUIRE_SANDBOX") != "" {
			t.Fatal("bubblewrap and a static busybox are required (scripts/test-deps.sh)")
		}
		t.Skip("bubblewrap or a static busybox missing")
	}
	r, err := sandbox.NewBubblewrap(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func busyboxBase(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	bb, _ := exec.LookPath("busybox")
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"bin", "etc", "var/lib/pkgs", "usr"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"sh", "cat", "printf"} {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func toyFormat(fetched map[string]string) Format {
	return Format{Name: "toy",
		Fetch: func(pkgs []Package) []string {
			script := ""
			for _, p := range pkgs {
				script += "printf %s '" + fetched[p.Name] + "' > " + PackagesDir + "/" + p.File + "\n"
			}
			return []string{"/bin/sh", "-ec", script}
		},
		Install: func(stages [][]string) []string {
			return append([]string{"/bin/sh", "-ec", `for f; do cat "$f" >> /var/lib/pkgs/installed; echo >> /var/lib/pkgs/installed; done`, "install"}, slices.Concat(stages...)...)
		},
		Env: []string{"PATH=/bin"},
	}
}

func localPackage(t *testing.T, name, content string) Package {
	t.Helper()
	p := filepath.Join(t.TempDir(), name+".pkg")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return Package{Name: name, Version: "1", File: name + ".pkg", SHA256: sum(content), Path: p, Artifact: "r/" + name + "@sha256:1"}
}

func TestComposeInstallsVerifiedPackagesAndReuses(t *testing.T) {
	r := requireSandbox(t)
	base := busyboxBase(t)
	c := &Cache{Dir: t.TempDir(), Runner: r}
	remote := Package{Name: "b", Version: "2", File: "b.pkg", SHA256: sum("from-archive"), URL: "http://archive.invalid/b.pkg"}
	req := Request{Namespace: "team", Base: "sha256:base", BaseRoot: base, Packages: []Package{remote, localPackage(t, "a", "from-group")},
		Format: toyFormat(map[string]string{"b": "from-archive"}), Log: &bytes.Buffer{}}
	res, err := c.Compose(t.Context(), req)
	if err != nil {
		t.Fatalf("%v\n%s", err, req.Log)
	}
	got, err := os.ReadFile(filepath.Join(res.RootFS, "var/lib/pkgs/installed"))
	if err != nil || string(got) != "from-group\nfrom-archive\n" || res.Cached {
		t.Fatalf("composed %q (%v), cached %v", got, err, res.Cached)
	}
	if _, err := os.Stat(filepath.Join(base, "var/lib/pkgs/installed")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("composing wrote into the base")
	}
	again, err := c.Compose(t.Context(), req)
	if err != nil || !again.Cached || again.RootFS != res.RootFS || again.Key != res.Key {
		t.Fatalf("the same set was not reused: %+v %v", again, err)
	}
	req.Namespace = "other"
	other, err := c.Compose(t.Context(), req)
	if err != nil || other.Cached || other.RootFS == res.RootFS {
		t.Fatalf("another namespace reused the buildroot: %+v %v", other, err)
	}
}

func TestComposeOnceForConcurrentRequests(t *testing.T) {
	r := requireSandbox(t)
	c := &Cache{Dir: t.TempDir(), Runner: r}
	req := Request{Namespace: "team", Base: "sha256:base", BaseRoot: busyboxBase(t), Packages: []Package{localPackage(t, "a", "x")},
		Format: toyFormat(nil), Log: &syncBuffer{}}
	var wg sync.WaitGroup
	results := make([]Result, 3)
	for i := range results {
		wg.Go(func() {
			var err error
			if results[i], err = c.Compose(context.Background(), req); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	composed := 0
	for _, r := range results {
		if !r.Cached {
			composed++
		}
	}
	if composed != 1 {
		t.Fatalf("%d of 3 concurrent requests composed", composed)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func TestComposeFailuresCacheNothing(t *testing.T) {
	r := requireSandbox(t)
	base := busyboxBase(t)
	remote := Package{Name: "b", Version: "2", File: "b.pkg", SHA256: sum("pinned"), URL: "http://archive.invalid/b.pkg"}
	bad := localPackage(t, "a", "x")
	bad.SHA256 = sum("something else")
	failing := toyFormat(map[string]string{"b": "pinned"})
	failing.Install = func([][]string) []string { return []string{"/bin/sh", "-c", "echo postinst failed >&2; exit 3"} }
	for name, c := range map[string]struct {
		pkgs   []Package
		format Format
		want   string
	}{
		"download with another digest":    {[]Package{remote}, toyFormat(map[string]string{"b": "tampered"}), "SHA-256 " + sum("tampered")},
		"member file with another digest": {[]Package{bad}, toyFormat(nil), "expected " + bad.SHA256},
		"install fails":                   {[]Package{remote}, failing, "installing the packages: exit code 3"},
	} {
		cache := &Cache{Dir: t.TempDir(), Runner: r}
		log := &bytes.Buffer{}
		_, err := cache.Compose(t.Context(), Request{Namespace: "team", Base: "sha256:base", BaseRoot: base, Packages: c.pkgs, Format: c.format, Log: log})
		var ce *ComposeError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "failed to compose") {
			t.Errorf("%s: got %v, want a ComposeError with %q\n%s", name, err, c.want, log)
		}
		if entries, _ := os.ReadDir(filepath.Join(cache.Dir, "team")); len(entries) != 0 {
			t.Errorf("%s: the failed composition left %v", name, entries)
		}
	}
}

func TestInstallStagesInOrder(t *testing.T) {
	t.Parallel()
	pkgs := []Package{{Name: "c", File: "c.deb", Stage: 1}, {Name: "a", File: "a.deb", Stage: 2}, {Name: "b", File: "b.deb"}, {Name: "d", File: "d.deb", Stage: 1}}
	got := installStages(pkgs)
	want := [][]string{{PackagesDir + "/b.deb"}, {PackagesDir + "/c.deb", PackagesDir + "/d.deb"}, {PackagesDir + "/a.deb"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("stages %v, want %v", got, want)
	}
}
