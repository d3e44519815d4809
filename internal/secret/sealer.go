// Package secret encrypts Secret values at rest with AES-256-GCM under a key
// kept in the data directory, outside anything a tenant or sandbox can read.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/kilnbuild/kiln/internal/keyfile"
)

// Sealer encrypts and decrypts values bound to a context string (the
// secret's namespace, name and key), so a ciphertext cannot be moved to
// another secret.
type Sealer struct{ aead cipher.AEAD }

// New returns a Sealer for a 32-byte key.
func New(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("secret key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("creating cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("creating GCM: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// LoadOrCreateKey reads the hex key at path, creating it (mode 0600) when
// absent. Creation is atomic: the key is written to a temporary file and
// linked into place, so a crash never leaves a partial key, and of several
// processes creating it at once (replicas sharing the directory) one wins
// and every one returns the winner's key.
func LoadOrCreateKey(path string) ([]byte, error) {
	key, err := readKey(path)
	if !errors.Is(err, os.ErrNotExist) {
		return key, err
	}
	key = make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generating secret key: %w", err)
	}
	err = keyfile.Create(path, []byte(hex.EncodeToString(key)+"\n"))
	if errors.Is(err, os.ErrExist) {
		return readKey(path) // another process created it first
	}
	if err != nil {
		return nil, fmt.Errorf("writing secret key: %w", err)
	}
	return key, nil
}

// readKey reads a hex key; a missing file is os.ErrNotExist.
func readKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("reading secret key: %w", err)
	}
	key, derr := hex.DecodeString(strings.TrimSpace(string(b)))
	if derr != nil || len(key) != 32 {
		return nil, fmt.Errorf("secret key %s is corrupt: expected 64 hex characters", path)
	}
	return key, nil
}

// Seal encrypts plaintext bound to context.
func (s *Sealer) Seal(context string, plaintext []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("generating nonce: %w", err)
	}
	return s.aead.Seal(nonce, nonce, plaintext, []byte(context)), nil
}

// Open decrypts a value produced by Seal with the same context.
func (s *Sealer) Open(context string, sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("sealed value too short")
	}
	out, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(context))
	if err != nil {
		return nil, fmt.Errorf("decrypting %s: %w", context, err)
	}
	return out, nil
}
