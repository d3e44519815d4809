package debimport

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ulikunitz/xz"
)

// fakeArchive is a local apt archive served over HTTP: the input of the
// tests that need one the real archive cannot give (tampered files,
// versions that change). Its packages are real source packages made by
// dpkg-source -b, its InRelease a real clearsigned Release.
type fakeArchive struct {
	t       *testing.T
	root    string
	srv     *httptest.Server
	key     *openpgp.Entity
	entries map[string]string // package → Sources paragraph
	// buildDepends are Build-Depends relations a package has besides
	// debhelper-compat, by package.
	buildDepends map[string]string
	// xzOnly publishes Sources.xz alone, as the security archive does.
	xzOnly bool
}

func newFakeArchive(t *testing.T) *fakeArchive {
	t.Helper()
	for _, tool := range []string{"dpkg-source", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (apt-get install dpkg-dev git)", tool)
		}
	}
	key, err := openpgp.NewEntity("Test Archive", "", "archive@example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	a := &fakeArchive{t: t, root: t.TempDir(), key: key, entries: map[string]string{}, buildDepends: map[string]string{}}
	a.srv = httptest.NewServer(http.FileServer(http.Dir(a.root)))
	t.Cleanup(a.srv.Close)
	return a
}

// archive is the Archive to import from.
func (a *fakeArchive) archive() Archive {
	return Archive{URL: a.srv.URL, Suite: "bookworm", Component: "main", Keyring: openpgp.EntityList{a.key}, HTTP: a.srv.Client()}
}

// addPackage builds a native source package name/version with
// dpkg-source -b into the pool and lists it in the index; its binary
// package is name, or binary when given.
func (a *fakeArchive) addPackage(name, version, note string, binary ...string) {
	t := a.t
	t.Helper()
	work := t.TempDir()
	tree := filepath.Join(work, name+"-"+version)
	bd := "debhelper-compat (= 13)"
	if more := a.buildDepends[name]; more != "" {
		bd += ", " + more
	}
	files := map[string]string{
		"debian/control":       fmt.Sprintf("Source: %s\nMaintainer: A <a@example.org>\nBuild-Depends: %s\n\nPackage: %s\nArchitecture: all\nDescription: test\n test\n", name, bd, name),
		"debian/changelog":     fmt.Sprintf("%s (%s) unstable; urgency=medium\n\n  * %s\n\n -- A <a@example.org>  Sat, 18 Feb 2023 13:33:39 +0100\n", name, version, note),
		"debian/rules":         "#!/usr/bin/make -f\n%:\n\tdh $@\n",
		"debian/source/format": "3.0 (native)\n",
		"README":               note + "\n",
		".gitignore":           "README\n", // an ignored file must still be imported
	}
	for p, c := range files {
		mustWrite(t, filepath.Join(tree, p), c)
	}
	cmd := exec.Command("dpkg-source", "-b", filepath.Base(tree))
	cmd.Dir = work
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dpkg-source -b: %v\n%s", err, out)
	}
	dir := "pool/main/" + name[:1] + "/" + name
	var sums []string
	for _, f := range []string{name + "_" + version + ".dsc", name + "_" + version + ".tar.xz"} {
		data, err := os.ReadFile(filepath.Join(work, f))
		if err != nil {
			t.Fatal(err)
		}
		mustWrite(t, filepath.Join(a.root, dir, f), string(data))
		sums = append(sums, fmt.Sprintf(" %s %d %s", sha(data), len(data), f))
	}
	bin := name
	if len(binary) > 0 {
		bin = strings.Join(binary, ", ")
	}
	a.entries[name] = fmt.Sprintf("Package: %s\nBinary: %s\nVersion: %s\nArchitecture: all\nFormat: 3.0 (native)\nDirectory: %s\nChecksums-Sha256:\n%s\n",
		name, bin, version, dir, strings.Join(sums, "\n"))
}

// publish writes Sources.gz (or only Sources.xz) and the signed InRelease.
func (a *fakeArchive) publish() {
	t := a.t
	t.Helper()
	var names []string
	for n := range a.entries {
		names = append(names, n)
	}
	sort.Strings(names)
	var index bytes.Buffer
	zw, name := io.WriteCloser(gzip.NewWriter(&index)), "main/source/Sources.gz"
	if a.xzOnly {
		w, err := xz.NewWriter(&index)
		if err != nil {
			t.Fatal(err)
		}
		zw, name = w, "main/source/Sources.xz"
	}
	for _, n := range names {
		fmt.Fprintf(zw, "%s\n", a.entries[n])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(a.root, "dists/bookworm", name), index.String())
	release := fmt.Sprintf("Origin: Test\nSuite: stable\nCodename: bookworm\nComponents: main\nSHA256:\n %s %d %s\n", sha(index.Bytes()), index.Len(), name)
	a.sign(release, a.key)
}

// sign writes InRelease, clearsigned by key.
func (a *fakeArchive) sign(release string, key *openpgp.Entity) {
	var buf bytes.Buffer
	w, err := clearsign.Encode(&buf, key.PrivateKey, nil)
	if err != nil {
		a.t.Fatal(err)
	}
	if _, err := w.Write([]byte(release)); err != nil {
		a.t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		a.t.Fatal(err)
	}
	mustWrite(a.t, filepath.Join(a.root, "dists/bookworm/InRelease"), buf.String())
}

// path is a file of the archive on disk.
func (a *fakeArchive) path(rel string) string { return filepath.Join(a.root, rel) }

func sha(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	mode := os.FileMode(0o644)
	if strings.HasSuffix(path, "debian/rules") {
		mode = 0o755
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}
