package secret

import (
	"bytes"
	"path/filepath"
	"testing"
)

func TestSealRoundTripAndContextBinding(t *testing.T) {
	t.Parallel()
	key, err := LoadOrCreateKey(filepath.Join(t.TempDir(), "k", "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Seal("ns/a/password", []byte("hunter2"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("hunter2")) {
		t.Fatal("plaintext visible in sealed value")
	}
	got, err := s.Open("ns/a/password", sealed)
	if err != nil || string(got) != "hunter2" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := s.Open("ns/b/password", sealed); err == nil {
		t.Fatal("value opened under another secret's context")
	}
}

func TestLoadOrCreateKeyIsStable(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "secret.key")
	a, err := LoadOrCreateKey(p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreateKey(p)
	if err != nil || !bytes.Equal(a, b) {
		t.Fatalf("second load differs: %v", err)
	}
}
