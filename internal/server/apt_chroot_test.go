package server

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/kilnbuild/kiln/internal/aptrepo"
)

// requireApt reports whether the real-apt tests must run (CI, or
// KILN_REQUIRE_APT) rather than skip when something is missing.
func requireApt() bool { return os.Getenv("CI") != "" || os.Getenv("KILN_REQUIRE_APT") != "" }

// aptChroot returns a fresh copy of a clean Debian bookworm minbase system
// made by debootstrap. The debootstrap runs once and is kept under
// $KILN_TEST_CACHE (default: the user's cache directory, kiln-test/),
// shared by test processes through a lock.
func aptChroot(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"debootstrap", "chroot", "cp"} {
		if _, err := exec.LookPath(tool); err != nil {
			if requireApt() {
				t.Fatalf("%s is needed (scripts/test-deps.sh installs it)", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
	if os.Geteuid() != 0 {
		if requireApt() {
			t.Fatal("the apt chroot test runs as root")
		}
		t.Skip("the apt chroot test runs as root")
	}
	base := cachedBootstrap(t)
	dst := filepath.Join(t.TempDir(), "chroot")
	if out, err := exec.Command("cp", "-a", base, dst).CombinedOutput(); err != nil {
		t.Fatalf("copying the cached chroot: %v\n%s", err, out)
	}
	return dst
}

func cachedBootstrap(t *testing.T) string {
	cache := os.Getenv("KILN_TEST_CACHE")
	if cache == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			t.Fatal(err)
		}
		cache = filepath.Join(dir, "kiln-test")
	}
	dir := filepath.Join(cache, "apt-chroot")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, "bookworm-minbase")
	if _, err := os.Stat(filepath.Join(base, "usr/bin/apt-get")); err == nil {
		return base
	}
	tmp := filepath.Join(dir, ".tmp-bootstrap")
	_ = os.RemoveAll(tmp)
	t.Logf("debootstrap --variant=minbase bookworm (once; cached in %s)", dir)
	out, err := exec.Command("debootstrap", "--variant=minbase", "bookworm", tmp, "http://deb.debian.org/debian").CombinedOutput()
	if err != nil {
		t.Fatalf("debootstrap: %v\n%s", err, lastKB(out))
	}
	if err := os.Rename(tmp, base); err != nil {
		t.Fatal(err)
	}
	return base
}

func lastKB(b []byte) []byte {
	if len(b) > 4000 {
		return b[len(b)-4000:]
	}
	return b
}

// aptIn runs apt-get in the chroot against Kiln's source list only.
type aptIn struct {
	t    *testing.T
	root string
}

func (a aptIn) run(args ...string) ([]byte, error) {
	opts := []string{"apt-get", "-o", "Dir::Etc::SourceList=/etc/apt/kiln.list", "-o", "Dir::Etc::SourceParts=/dev/null",
		"-o", "Acquire::https::CaInfo=/etc/apt/kiln-ca.pem", "-o", "Acquire::Retries=0"}
	cmd := exec.Command("chroot", append([]string{a.root}, append(opts, args...)...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C"}
	return cmd.CombinedOutput()
}

// freshUpdate forgets what apt read before and runs apt-get update.
func (a aptIn) freshUpdate() ([]byte, error) {
	lists := filepath.Join(a.root, "var/lib/apt/lists")
	if err := os.RemoveAll(lists); err != nil {
		a.t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(lists, "partial"), 0o755); err != nil {
		a.t.Fatal(err)
	}
	return a.run("update")
}

func (a aptIn) configure(repoURL string, key, ca []byte) {
	writeFile(a.t, filepath.Join(a.root, "etc/apt/keyrings/kiln.asc"), string(key))
	writeFile(a.t, filepath.Join(a.root, "etc/apt/kiln-ca.pem"), string(ca))
	writeFile(a.t, filepath.Join(a.root, "etc/apt/kiln.list"), "deb [signed-by=/etc/apt/keyrings/kiln.asc] "+repoURL+" stable main\n")
}

// aptInstallFromKiln does what a user does: asks Kiln for the
// Application's repository and key (kiln repo show, kiln keys public
// --format openpgp), points the apt of the chroot root at it with the
// server's CA, and installs pkgs from it with apt-get update && apt-get
// install. The Application must be public. It returns the chroot's apt
// and the repository URL. (The Debian slice's end-to-end test uses it on
// the packages Kiln built.)
func aptInstallFromKiln(t *testing.T, f *Factory, root, ns, app string, pkgs ...string) (aptIn, string) {
	t.Helper()
	kiln := kilnCLI(t, f)
	out, err := kiln("repo", "show", app, "-n", ns, "-o", "json")
	var info struct{ URL string }
	if err != nil || json.Unmarshal([]byte(out), &info) != nil {
		t.Fatalf("kiln repo show: %v\n%s", err, out)
	}
	key, err := kiln("keys", "public", "--format", "openpgp", "-n", ns)
	if err != nil {
		t.Fatalf("kiln keys public --format openpgp: %v\n%s", err, key)
	}
	repoURL := chrootReachable(t, info.URL)
	apt := aptIn{t: t, root: root}
	apt.configure(repoURL, []byte(key), f.CAPEM)
	if out, err := apt.freshUpdate(); err != nil {
		t.Fatalf("apt-get update: %v\n%s", err, out)
	}
	if out, err := apt.run(append([]string{"install", "-y", "--no-install-recommends"}, pkgs...)...); err != nil {
		t.Fatalf("apt-get install %v: %v\n%s", pkgs, err, out)
	}
	return apt, repoURL
}

// TestAptInstallsFromKiln: the real apt, in a clean bookworm chroot, with
// Kiln's source line and exported key, installs a package and its
// dependency from the repository a real Kiln server serves over HTTPS; a
// tampered index, a tampered Release or another namespace's key make apt
// refuse the repository.
func TestAptInstallsFromKiln(t *testing.T) {
	root := aptChroot(t)
	f, a := setup(t)
	a.must(201, "POST", "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": "team-b"}})
	a.must(201, "POST", nsPath("team-a", "applications"), map[string]any{"apiVersion": "kiln.dev/v1alpha1", "kind": "Application",
		"metadata": map[string]any{"name": "greet", "annotations": map[string]any{aptrepo.AnnotationPublish: "public"}}})
	a.must(201, "POST", nsPath("team-a", "components"), component("cli", "greet"))
	a.must(201, "POST", nsPath("team-a", "components"), component("lib", "greet"))
	pushDebs(t, f, "team-a", "lib", makeTestDeb(t, "libgreet1", "1.0-1", ""))
	pushDebs(t, f, "team-a", "cli", makeTestDeb(t, "greet", "1.0-1", "libgreet1 (>= 1.0)"))

	apt, repoURL := aptInstallFromKiln(t, f, root, "team-a", "greet", "greet")
	for _, p := range []string{"usr/share/greet/hello.txt", "usr/share/libgreet1/hello.txt"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Fatalf("installed package file %s: %v", p, err)
		}
	}
	if out, err := apt.run("purge", "-y", "greet", "libgreet1"); err != nil {
		t.Fatalf("apt-get purge: %v\n%s", err, out)
	}

	t.Run("tampered Packages", func(t *testing.T) {
		gen := currentGeneration(t, f, "team-a", "greet")
		for _, p := range globIn(t, gen, "dists/stable/main/binary-*/Packages*", "dists/stable/main/binary-*/by-hash/SHA256/*") {
			tamper(t, p, "Description: greet", "Description: gr33t")
		}
		refused(t, apt, "Hash Sum mismatch", "unexpected size")
	})
	t.Run("tampered Release", func(t *testing.T) {
		gen := currentGeneration(t, f, "team-a", "greet")
		tamper(t, filepath.Join(gen, "dists/stable/InRelease"), "Origin: Kiln", "Origin: Evil")
		tamper(t, filepath.Join(gen, "dists/stable/Release"), "Origin: Kiln", "Origin: Evil")
		refused(t, apt, "BADSIG", "not signed")
	})
	t.Run("another namespace's key", func(t *testing.T) {
		apt.configure(repoURL, a.must(200, "GET", "/openpgp-keys/team-b", nil).Body, f.CAPEM)
		refused(t, apt, "NO_PUBKEY", "not signed")
	})
	// A static release destination's tree (what publish-static writes, a
	// web server or a file: URI serves) installs too.
	t.Run("static destination", func(t *testing.T) {
		signer, err := f.aptSigner(t.Context(), "team-a")
		if err != nil {
			t.Fatal(err)
		}
		deb := makeTestDeb(t, "greet-static", "2.0-1", "")
		if _, err := aptrepo.PublishStatic(filepath.Join(root, "srv/kiln"), aptrepo.Meta{Label: "team-a/static"}, []string{deb}, signer); err != nil {
			t.Fatal(err)
		}
		pub, err := signer.PublicKey()
		if err != nil {
			t.Fatal(err)
		}
		apt.configure("file:/srv/kiln/apt", pub, f.CAPEM)
		if out, err := apt.freshUpdate(); err != nil {
			t.Fatalf("apt-get update: %v\n%s", err, out)
		}
		if out, err := apt.run("install", "-y", "greet-static"); err != nil {
			t.Fatalf("apt-get install greet-static: %v\n%s", err, out)
		}
		if _, err := os.Stat(filepath.Join(root, "usr/share/greet-static/hello.txt")); err != nil {
			t.Fatal(err)
		}
	})
}

// chrootReachable is the repository URL as the chroot reaches it (it
// shares the host's network; the certificate names 127.0.0.1).
func chrootReachable(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := net.SplitHostPort(u.Host); err != nil {
		t.Fatalf("url %s has no port", raw)
	}
	return u.String()
}

func currentGeneration(t *testing.T, f *Factory, ns, app string) string {
	spec, err := f.apt.Source.Repository(t.Context(), ns, app)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := f.apt.Publish(t.Context(), ns, app, spec)
	if err != nil {
		t.Fatal(err)
	}
	return repo.Dir
}

func globIn(t *testing.T, dir string, patterns ...string) []string {
	var out []string
	for _, p := range patterns {
		m, _ := filepath.Glob(filepath.Join(dir, p))
		out = append(out, m...)
	}
	if len(out) == 0 {
		t.Fatalf("nothing matches %v in %s", patterns, dir)
	}
	return out
}

// tamper replaces old with new in file (a generation's file, as an
// attacker with write access to the served tree or the network would),
// putting the original back when the test ends.
func tamper(t *testing.T, file, old, new string) {
	t.Helper()
	orig, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	changed := bytes.ReplaceAll(orig, []byte(old), []byte(new))
	if zr, err := gzip.NewReader(bytes.NewReader(orig)); err == nil {
		plain, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write(bytes.ReplaceAll(plain, []byte(old), []byte(new)))
		_ = zw.Close()
		changed = b.Bytes()
	}
	if bytes.Equal(orig, changed) && !strings.Contains(file, "by-hash") {
		t.Fatalf("%s has no %q to tamper with", file, old)
	}
	if err := os.WriteFile(file, changed, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.WriteFile(file, orig, 0o644) })
}

// refused checks that apt-get update fails, saying one of why, and that
// the package is then not installable (it was purged after the first
// install).
func refused(t *testing.T, apt aptIn, why ...string) {
	t.Helper()
	out, err := apt.freshUpdate()
	said := false
	for _, w := range why {
		said = said || bytes.Contains(out, []byte(w))
	}
	if err == nil || !said {
		t.Fatalf("apt-get update accepted the repository (err %v, want one of %q):\n%s", err, why, out)
	}
	if out, err := apt.run("install", "-y", "greet"); err == nil {
		t.Fatalf("apt-get install still found greet:\n%s", out)
	}
}
