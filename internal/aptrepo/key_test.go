package aptrepo

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
)

func TestKeysPerNamespace(t *testing.T) {
	keys := Keys{Dir: filepath.Join(t.TempDir(), "openpgp")}
	a, err := keys.Signer("team-a")
	must(t, err)
	again, err := keys.Signer("team-a")
	must(t, err)
	b, err := keys.Signer("team-b")
	must(t, err)
	if a.Fingerprint() != again.Fingerprint() {
		t.Fatal("the key changed between two uses")
	}
	if a.Fingerprint() == b.Fingerprint() {
		t.Fatal("two namespaces share a key")
	}
	info, err := os.Stat(filepath.Join(keys.Dir, "team-a.asc"))
	must(t, err)
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", info.Mode().Perm())
	}
	for _, ns := range []string{"../x", "", "A", "a/b", ".."} {
		if _, err := keys.Signer(ns); err == nil {
			t.Errorf("namespace %q accepted", ns)
		}
	}
	must(t, keys.Remove("team-a"))
	fresh, err := keys.Signer("team-a")
	must(t, err)
	if fresh.Fingerprint() == a.Fingerprint() {
		t.Fatal("a removed namespace's key came back")
	}
}

// gpgvKeyring writes s's public key as a binary keyring, which gpgv reads.
func gpgvKeyring(t *testing.T, s *Signer) string {
	t.Helper()
	pub, err := s.PublicKey()
	must(t, err)
	block, err := armor.Decode(bytes.NewReader(pub))
	must(t, err)
	bin, err := io.ReadAll(block.Body)
	must(t, err)
	file := filepath.Join(t.TempDir(), "key.gpg")
	must(t, os.WriteFile(file, bin, 0o644))
	return file
}

func TestSignaturesVerifyWithGpgv(t *testing.T) {
	if _, err := exec.LookPath("gpgv"); err != nil {
		t.Skip("gpgv not installed")
	}
	keys := Keys{Dir: t.TempDir()}
	s, err := keys.Signer("team")
	must(t, err)
	other, err := keys.Signer("other")
	must(t, err)
	dir := t.TempDir()
	release := []byte("Origin: Kiln\nSuite: stable\nSHA256:\n 00 1 main/binary-amd64/Packages\n")
	in, err := s.ClearSign(release)
	must(t, err)
	det, err := s.DetachSign(release)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "InRelease"), in, 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "Release"), release, 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "Release.gpg"), det, 0o644))
	gpgv := func(ring string, args ...string) error {
		out, err := exec.Command("gpgv", append([]string{"--keyring", ring}, args...)...).CombinedOutput()
		if err != nil {
			t.Log(string(out))
		}
		return err
	}
	ring := gpgvKeyring(t, s)
	must(t, gpgv(ring, filepath.Join(dir, "InRelease")))
	must(t, gpgv(ring, filepath.Join(dir, "Release.gpg"), filepath.Join(dir, "Release")))
	if gpgv(gpgvKeyring(t, other), filepath.Join(dir, "InRelease")) == nil {
		t.Fatal("another namespace's key verified the signature")
	}
	tampered := strings.Replace(string(in), "Suite: stable", "Suite: stabl3", 1)
	must(t, os.WriteFile(filepath.Join(dir, "InRelease"), []byte(tampered), 0o644))
	if gpgv(ring, filepath.Join(dir, "InRelease")) == nil {
		t.Fatal("a tampered InRelease verified")
	}
}
