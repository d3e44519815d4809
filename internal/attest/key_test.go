package attest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadOrCreateKeyCreatesThenReloads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "cosign.key")
	s1, err := LoadOrCreateKey(path)
	must(t, err)
	fi, err := os.Stat(path)
	must(t, err)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key mode = %v, want 0600", fi.Mode().Perm())
	}
	raw, err := os.ReadFile(path)
	must(t, err)
	if !bytes.HasPrefix(raw, []byte("-----BEGIN PRIVATE KEY-----")) {
		t.Fatalf("key file is not PKCS#8 PEM:\n%s", raw)
	}
	s2, err := LoadOrCreateKey(path)
	must(t, err)
	if !bytes.Equal(s1.PublicKeyPEM(), s2.PublicKeyPEM()) {
		t.Fatal("reloading the key gave another public key")
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	must(t, err)
	if len(entries) != 1 {
		t.Fatalf("key directory holds %d entries, want only the key", len(entries))
	}
}

func TestSignerSignaturesVerifyWithPublicKeyPEM(t *testing.T) {
	s := newSigner(t)
	pub, err := ParsePublicKeyPEM(s.PublicKeyPEM())
	must(t, err)
	sig, err := s.Sign([]byte("payload"))
	must(t, err)
	sum := sha256.Sum256([]byte("payload"))
	if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), sum[:], sig) {
		t.Fatal("signature does not verify as ECDSA-SHA256 ASN.1")
	}
	if verifySignature(pub, []byte("other"), sig) == nil {
		t.Fatal("signature verified over other data")
	}
}

func TestLoadOperatorSuppliedKeys(t *testing.T) {
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	sec1, err := x509.MarshalECPrivateKey(p256)
	must(t, err)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(p256)
	must(t, err)
	for name, block := range map[string]*pem.Block{
		"EC PRIVATE KEY": {Type: "EC PRIVATE KEY", Bytes: sec1},
		"PRIVATE KEY":    {Type: "PRIVATE KEY", Bytes: pkcs8},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "k.pem")
			// A leading non-key block (e.g. a certificate) is skipped.
			data := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), pem.EncodeToMemory(block)...)
			must(t, os.WriteFile(path, data, 0o644))
			s, err := LoadOrCreateKey(path)
			must(t, err)
			if !s.pub.Equal(&p256.PublicKey) {
				t.Fatal("loaded another key")
			}
		})
	}
}

func TestLoadRejectsUnusableKeys(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	must(t, err)
	p384DER, err := x509.MarshalPKCS8PrivateKey(p384)
	must(t, err)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	must(t, err)
	rsaDER, err := x509.MarshalPKCS8PrivateKey(rsaKey)
	must(t, err)
	for name, tc := range map[string]struct {
		data, want string
	}{
		"garbage":   {"not a key", "no PEM private key"},
		"encrypted": {string(pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED SIGSTORE PRIVATE KEY", Bytes: []byte{1}})), "encrypted"},
		"P-384":     {string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p384DER})), "P-256"},
		"RSA":       {string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: rsaDER})), "P-256"},
		"bad DER":   {string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{1, 2}})), "parsing EC private key"},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "k.pem")
			must(t, os.WriteFile(path, []byte(tc.data), 0o600))
			_, err := LoadOrCreateKey(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

// TestKeyIDIsTheDigestOfThePublicKey: the key id is sha256 of the DER
// that cosign's .pub file carries, so a verifier holding only the public
// key computes the same id; another key has another id.
func TestKeyIDIsTheDigestOfThePublicKey(t *testing.T) {
	s := newSigner(t)
	block, _ := pem.Decode(s.PublicKeyPEM())
	sum := sha256.Sum256(block.Bytes)
	if want := "sha256:" + hex.EncodeToString(sum[:]); s.KeyID() != want {
		t.Fatalf("KeyID() = %s, want %s", s.KeyID(), want)
	}
	if newSigner(t).KeyID() == s.KeyID() {
		t.Fatal("two keys have the same id")
	}
}
