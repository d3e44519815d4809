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
	teamA := Namespace{"team-a", "0b6e6c1a-1111-4c1e-9a57-5e0e0e0e0001"}
	a, err := keys.Signer(teamA)
	must(t, err)
	again, err := keys.Signer(teamA)
	must(t, err)
	b, err := keys.Signer(Namespace{"team-b", "0b6e6c1a-1111-4c1e-9a57-5e0e0e0e0002"})
	must(t, err)
	if a.Fingerprint() != again.Fingerprint() {
		t.Fatal("the key changed between two uses")
	}
	if a.Fingerprint() == b.Fingerprint() {
		t.Fatal("two namespaces share a key")
	}
	info, err := os.Stat(filepath.Join(keys.Dir, "team-a_"+teamA.UID+".asc"))
	must(t, err)
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", info.Mode().Perm())
	}
	for _, ns := range []Namespace{{"../x", "u"}, {"", "u"}, {"A", "u"}, {"a/b", "u"}, {"..", "u"}, {"team-a", "../x"}, {"team-a", ""}, {"team-a", "a_b"}} {
		if _, err := keys.Signer(ns); err == nil {
			t.Errorf("namespace %+v accepted", ns)
		}
	}
	// The same name with another UID (deleted and created again) is
	// another namespace: another key, whether or not the old one was
	// removed.
	recreated, err := keys.Signer(Namespace{"team-a", "0b6e6c1a-1111-4c1e-9a57-5e0e0e0e0003"})
	must(t, err)
	if recreated.Fingerprint() == a.Fingerprint() {
		t.Fatal("a re-created namespace signs with the old namespace's key")
	}
	must(t, keys.Remove("team-a"))
	if left, _ := filepath.Glob(filepath.Join(keys.Dir, "team-a_*")); len(left) != 0 {
		t.Fatalf("Remove left %v", left)
	}
	if _, err := os.Stat(filepath.Join(keys.Dir, "team-b_0b6e6c1a-1111-4c1e-9a57-5e0e0e0e0002.asc")); err != nil {
		t.Fatalf("Remove of team-a touched team-b's key: %v", err)
	}
	fresh, err := keys.Signer(teamA)
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
	s, err := keys.Signer(Namespace{"team", "1"})
	must(t, err)
	other, err := keys.Signer(Namespace{"other", "2"})
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
