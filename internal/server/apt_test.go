package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/armor"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/aptrepo"
	"github.com/kilnbuild/kiln/internal/oci"
	"github.com/kilnbuild/kiln/internal/registry"
)

// buildDeb builds a real .deb with dpkg-deb --build.
func makeTestDeb(t *testing.T, name, version, depends string) string {
	t.Helper()
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb not installed (Debian package dpkg)")
	}
	root := filepath.Join(t.TempDir(), name)
	writeFile(t, filepath.Join(root, "usr/share", name, "hello.txt"), "hello from "+name+" "+version+"\n")
	if depends != "" {
		depends = "Depends: " + depends + "\n"
	}
	writeFile(t, filepath.Join(root, "DEBIAN/control"), fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: all\n"+
		"Maintainer: Kiln Test <test@kiln.dev>\n%sDescription: %s, built by a Kiln test\n", name, version, depends, name))
	out := filepath.Join(t.TempDir(), name+"_"+version+"_all.deb")
	if b, err := exec.Command("dpkg-deb", "--root-owner-group", "--build", root, out).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb --build: %v\n%s", err, b)
	}
	return out
}

// pushDebs pushes a Debian artifact the way Debian builds store theirs (a
// layer per file, titled by its name) to NS/COMP in the embedded registry
// and makes it the component's latest artifact, as a finished build does.
func pushDebs(t *testing.T, f *Factory, ns, comp string, debs ...string) string {
	t.Helper()
	var blobs []oci.Blob
	for _, d := range debs {
		data, err := os.ReadFile(d)
		if err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, oci.Blob{MediaType: "application/vnd.debian.binary-package", Data: data,
			Annotations: map[string]string{aptrepo.AnnotationTitle: filepath.Base(d)}})
	}
	repo := strings.TrimPrefix(f.URL, "https://") + "/" + ns + "/" + comp
	desc, err := oci.PushArtifact(t.Context(), repo+":latest", blobs, oci.PushOptions{Remote: oci.Remote{Token: f.systemToken, RootCAs: f.caPool()}})
	if err != nil {
		t.Fatal(err)
	}
	ref := repo + "@" + desc.Digest
	setLatestArtifact(t, f, ns, comp, ref)
	return ref
}

// pushDebDir pushes the .debs as a build's output directory (one tar
// layer, with a .buildinfo beside them), as the debian pipeline's output
// workspace is pushed, and makes it the component's latest artifact.
func pushDebDir(t *testing.T, f *Factory, ns, comp string, debs ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range debs {
		data, err := os.ReadFile(d)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, filepath.Base(d)), string(data))
	}
	writeFile(t, filepath.Join(dir, "greet_1.0-1_amd64.buildinfo"), "Format: 1.0\n")
	repo := strings.TrimPrefix(f.URL, "https://") + "/" + ns + "/" + comp
	desc, err := oci.PushDirectory(t.Context(), repo+":latest", dir, oci.PushOptions{Remote: oci.Remote{Token: f.systemToken, RootCAs: f.caPool()}})
	if err != nil {
		t.Fatal(err)
	}
	ref := repo + "@" + desc.Digest
	setLatestArtifact(t, f, ns, comp, ref)
	return ref
}

func setLatestArtifact(t *testing.T, f *Factory, ns, comp, ref string) {
	t.Helper()
	_, err := registry.UpdateStatus[v1alpha1.Component](t.Context(), f.Registry, ns, comp, func(c *v1alpha1.Component) error {
		c.Status.LatestArtifactRef = ref
		_, c.Status.LatestArtifact, _ = oci.SplitDigest(ref)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// get reads url with the factory's CA, optionally with basic auth.
func aptGet(t *testing.T, f *Factory, url, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if token != "" {
		req.SetBasicAuth("kiln", token)
	}
	res, err := f.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func TestAptRepositoryTenancy(t *testing.T) {
	f, admin, alice, bob := tenants(t)
	populate(t, alice, "team-a")
	ref := pushDebs(t, f, "team-a", "cli", makeTestDeb(t, "greet", "1.0-1", ""))
	inRelease := f.URL + "/apt/team-a/greet/dists/stable/InRelease"

	// Not public: nobody without a token of team-a reads it, and it looks
	// like a repository that does not exist.
	for who, tok := range map[string]string{"anonymous": "", "bob": bob.token, "bad token": "kiln-nope"} {
		if code, body := aptGet(t, f, inRelease, tok); code != http.StatusNotFound {
			t.Fatalf("%s read a private repository: %d %s", who, code, body)
		}
	}
	if code, body := aptGet(t, f, inRelease, alice.token); code != http.StatusOK || !bytes.Contains(body, []byte("BEGIN PGP SIGNED MESSAGE")) {
		t.Fatalf("alice reading her repository: %d %s", code, body)
	}
	alice.must(200, "PATCH", nsPath("team-a", "applications")+"/greet",
		`{"metadata":{"annotations":{"kiln.dev/apt-repository":"public"}}}`, "Content-Type", "application/merge-patch+json")
	if code, body := aptGet(t, f, inRelease, ""); code != http.StatusOK {
		t.Fatalf("public repository: %d %s", code, body)
	}

	// Bob's component pointing at team-a's artifact publishes nothing: only
	// the namespace's own repositories are read.
	setLatestArtifact(t, f, "team-b", "cli", ref)
	bob.must(200, "PATCH", nsPath("team-b", "applications")+"/greet",
		`{"metadata":{"annotations":{"kiln.dev/apt-repository":"public"}}}`, "Content-Type", "application/merge-patch+json")
	if code, body := aptGet(t, f, f.URL+"/apt/team-b/greet/dists/stable/InRelease", ""); code != http.StatusNotFound ||
		!strings.Contains(string(body), "no built Debian package") {
		t.Fatalf("team-b published team-a's artifact: %d %s", code, body)
	}

	// Each namespace has its own key; a tenant reads only its own.
	keyA := alice.must(200, "GET", "/openpgp-keys/team-a", nil).Body
	keyB := bob.must(200, "GET", "/openpgp-keys/team-b", nil).Body
	bob.must(404, "GET", "/openpgp-keys/team-a", nil)
	if bytes.Equal(keyA, keyB) {
		t.Fatal("two namespaces share a repository key")
	}
	_, in := aptGet(t, f, inRelease, "")
	if !gpgvOK(t, keyA, in) {
		t.Fatal("team-a's InRelease does not verify with team-a's key")
	}
	if gpgvOK(t, keyB, in) {
		t.Fatal("team-a's InRelease verifies with team-b's key")
	}

	// Deleting the namespace deletes its key: a namespace of the same name
	// created later signs with a new one.
	admin.must(200, "DELETE", "/api/v1/namespaces/team-a", nil)
	eventually(t, "team-a gone", func() bool { return admin.do("GET", "/api/v1/namespaces/team-a", nil).Code == 404 })
	if left, _ := filepath.Glob(filepath.Join(f.dir("signing"), openpgpKeysDir, "team-a_*")); len(left) != 0 {
		t.Fatalf("team-a's key outlived the namespace: %v", left)
	}
	// A namespace of the same name created later is another tenant's: it
	// gets a new key.
	bob.must(201, "POST", "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": "team-a"}})
	if again := bob.must(200, "GET", "/openpgp-keys/team-a", nil).Body; bytes.Equal(again, keyA) {
		t.Fatal("a re-created namespace got the deleted namespace's key")
	}
}

// gpgvOK verifies an InRelease file with an armored public key.
func gpgvOK(t *testing.T, armored, inRelease []byte) bool {
	t.Helper()
	if _, err := exec.LookPath("gpgv"); err != nil {
		t.Skip("gpgv not installed")
	}
	block, err := armor.Decode(bytes.NewReader(armored))
	if err != nil {
		t.Fatalf("public key: %v", err)
	}
	bin, _ := io.ReadAll(block.Body)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "key.gpg"), string(bin))
	writeFile(t, filepath.Join(dir, "InRelease"), string(inRelease))
	return exec.Command("gpgv", "--keyring", filepath.Join(dir, "key.gpg"), filepath.Join(dir, "InRelease")).Run() == nil
}

func TestAptRepositoryFollowsNewArtifacts(t *testing.T) {
	f, a := setup(t)
	a.must(201, "POST", nsPath("team-a", "applications"), app("greet"))
	a.must(201, "POST", nsPath("team-a", "components"), component("cli", "greet"))
	a.must(201, "POST", nsPath("team-a", "components"), component("lib", "greet"))
	base := f.URL + "/apt/team-a/greet/"
	if code, body := aptGet(t, f, base+"dists/stable/InRelease", f.AdminToken); code != 404 || !strings.Contains(string(body), "no built Debian package") {
		t.Fatalf("empty application: %d %s", code, body)
	}
	pushDebDir(t, f, "team-a", "lib", makeTestDeb(t, "libgreet1", "1.0-1", "")) // both artifact layouts
	pushDebs(t, f, "team-a", "cli", makeTestDeb(t, "greet", "1.0-1", "libgreet1"))
	_, pk1 := aptGet(t, f, base+"dists/stable/main/binary-"+aptrepo.HostArch()+"/Packages", f.AdminToken)
	for _, want := range []string{"Package: greet\n", "Package: libgreet1\n", "Filename: pool/main/g/greet/greet_1.0-1_all.deb\n"} {
		if !strings.Contains(string(pk1), want) {
			t.Fatalf("Packages lacks %q:\n%s", want, pk1)
		}
	}
	if code, _ := aptGet(t, f, base+"pool/main/g/greet/greet_1.0-1_all.deb", f.AdminToken); code != 200 {
		t.Fatalf("pool file: %d", code)
	}
	pushDebs(t, f, "team-a", "cli", makeTestDeb(t, "greet", "1.1-1", "libgreet1"))
	_, pk2 := aptGet(t, f, base+"dists/stable/main/binary-"+aptrepo.HostArch()+"/Packages", f.AdminToken)
	if !strings.Contains(string(pk2), "Version: 1.1-1") || strings.Contains(string(pk2), "Version: 1.0-1\nArchitecture: all\nMaintainer: Kiln Test <test@kiln.dev>\nDepends") {
		t.Fatalf("Packages did not follow the new artifact:\n%s", pk2)
	}
	// A client that read the previous InRelease still finds its indices by
	// hash, and the .deb it listed.
	if code, body := aptGet(t, f, base+"dists/stable/main/binary-"+aptrepo.HostArch()+"/by-hash/SHA256/"+sha256Hex(pk1), f.AdminToken); code != 200 || !bytes.Equal(body, pk1) {
		t.Fatalf("previous Packages by hash: %d", code)
	}
	if code, _ := aptGet(t, f, base+"pool/main/g/greet/greet_1.0-1_all.deb", f.AdminToken); code != 200 {
		t.Fatalf("previous pool file: %d", code)
	}
	// Nothing outside the tree is reachable.
	for _, p := range []string{"../../team-a/greet/key.asc", "dists/../../../signing/openpgp/team-a.asc", ".tmp-x/y", "%2e%2e/%2e%2e/kiln.db"} {
		if code, body := aptGet(t, f, base+p, f.AdminToken); code == 200 && bytes.Contains(body, []byte("PRIVATE")) {
			t.Fatalf("%s served a private key", p)
		}
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestRepoShowAndOpenPGPKeyCLI(t *testing.T) {
	f, a := setup(t)
	a.must(201, "POST", nsPath("team-a", "applications"), app("greet"))
	a.must(201, "POST", nsPath("team-a", "components"), component("cli", "greet"))
	kiln := kilnCLI(t, f)
	out, err := kiln("repo", "show", "greet", "-n", "team-a", "-o", "json")
	if err != nil || !strings.Contains(out, "no component of the application has a built Debian package yet") {
		t.Fatalf("repo show before any build: %v\n%s", err, out)
	}
	pushDebs(t, f, "team-a", "cli", makeTestDeb(t, "greet", "1.0-1", ""))
	out, err = kiln("repo", "show", "greet", "-n", "team-a", "-o", "json")
	var info struct {
		URL, Suite, Fingerprint string
		Components              []string
		Architectures           []string
	}
	if err != nil || json.Unmarshal([]byte(out), &info) != nil {
		t.Fatalf("repo show -o json: %v\n%s", err, out)
	}
	if info.URL != f.URL+"/apt/team-a/greet" || info.Suite != "stable" || len(info.Components) != 1 || info.Components[0] != "main" ||
		len(info.Architectures) == 0 || len(info.Fingerprint) != 40 {
		t.Fatalf("repo show: %+v", info)
	}
	keyJSON, err := kiln("keys", "public", "--format", "openpgp", "-n", "team-a", "-o", "json")
	var key struct{ Fingerprint, PublicKey string }
	if err != nil || json.Unmarshal([]byte(keyJSON), &key) != nil || key.Fingerprint != info.Fingerprint {
		t.Fatalf("keys public --format openpgp -o json: %v\n%s (repo fingerprint %s)", err, keyJSON, info.Fingerprint)
	}
	armored, err := kiln("keys", "public", "--format", "openpgp", "-n", "team-a")
	if err != nil || armored != key.PublicKey || !strings.HasPrefix(armored, "-----BEGIN PGP PUBLIC KEY BLOCK-----") {
		t.Fatalf("keys public --format openpgp: %v\n%s", err, armored)
	}
	// The fingerprint gpg computes from the exported key is the one shown.
	if _, err := exec.LookPath("gpg"); err == nil {
		keyFile := filepath.Join(t.TempDir(), "k.asc")
		writeFile(t, keyFile, armored)
		show, err := exec.Command("gpg", "--show-keys", "--with-colons", keyFile).Output()
		if err != nil || !strings.Contains(string(show), "fpr:::::::::"+info.Fingerprint+":") {
			t.Fatalf("gpg --show-keys: %v\n%s", err, show)
		}
	}
	_, in := aptGet(t, f, f.URL+"/apt/team-a/greet/dists/stable/InRelease", f.AdminToken)
	if !gpgvOK(t, []byte(armored), in) {
		t.Fatal("the exported key does not verify the repository")
	}
	for _, format := range []string{"yaml", ""} {
		out, err := kiln("repo", "show", "greet", "-n", "team-a", "-o", format)
		if err != nil || !strings.Contains(out, info.Fingerprint) || !strings.Contains(out, info.URL) {
			t.Fatalf("repo show -o %q: %v\n%s", format, err, out)
		}
	}
	if out, err := kiln("repo", "show", "nope", "-n", "team-a"); err == nil || !strings.Contains(err.Error(), "team-a/nope does not exist") {
		t.Fatalf("repo show of a missing application: %v\n%s", err, out)
	}
	if out, err := kiln("keys", "public", "--format", "x509"); err == nil || !strings.Contains(err.Error(), "openpgp") {
		t.Fatalf("keys public --format x509: %v\n%s", err, out)
	}
	if out, err := kiln("keys", "public"); err != nil || !strings.Contains(out, "BEGIN PUBLIC KEY") {
		t.Fatalf("keys public (builder key): %v\n%s", err, out)
	}
}
