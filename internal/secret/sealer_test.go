package secret

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
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

// TestLoadOrCreateKeyConcurrently: processes that share a key directory
// (replicas) and start together all end up with one key, the one on disk,
// and no temporary file is left behind.
func TestLoadOrCreateKeyConcurrently(t *testing.T) {
	t.Parallel()
	for round := range 20 {
		dir := t.TempDir()
		path := filepath.Join(dir, "keys", "shared.key")
		keys := make([][]byte, 8)
		var wg sync.WaitGroup
		for i := range keys {
			wg.Go(func() {
				k, err := LoadOrCreateKey(path)
				if err != nil {
					t.Error(err)
				}
				keys[i] = k
			})
		}
		wg.Wait()
		onDisk, err := LoadOrCreateKey(path)
		if err != nil {
			t.Fatal(err)
		}
		for i, k := range keys {
			if !bytes.Equal(k, onDisk) {
				t.Fatalf("round %d: caller %d got a key that is not the one on disk", round, i)
			}
		}
		entries, _ := os.ReadDir(filepath.Dir(path))
		if len(entries) != 1 {
			t.Fatalf("round %d: %d files in the key directory, want only the key", round, len(entries))
		}
	}
}
