package attest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/kilnbuild/kiln/internal/keyfile"
)

// KeySource supplies the builder's signing key. FileKey is the only
// implementation today; a KMS-backed source (any crypto.Signer over an
// ECDSA P-256 key) can implement it later without touching the rest.
type KeySource interface {
	SigningKey(ctx context.Context) (crypto.Signer, error)
}

// FileKey is a PEM private key file, created on first use.
type FileKey string

// SigningKey loads the key, creating a new ECDSA P-256 key (mode 0600) when
// the file does not exist.
func (f FileKey) SigningKey(context.Context) (crypto.Signer, error) {
	key, err := readKey(string(f))
	if errors.Is(err, fs.ErrNotExist) {
		return createKey(string(f))
	}
	return key, err
}

// Signer signs payloads with the builder's key: ECDSA over SHA-256, ASN.1
// DER signatures, which is what cosign checks with `--key`.
type Signer struct {
	key crypto.Signer
	pub *ecdsa.PublicKey
}

// NewSigner loads the key from src. Only ECDSA P-256 keys are accepted.
func NewSigner(ctx context.Context, src KeySource) (*Signer, error) {
	key, err := src.SigningKey(ctx)
	if err != nil {
		return nil, err
	}
	pub, ok := key.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("signing key is %T, want an ECDSA P-256 key", key.Public())
	}
	return &Signer{key: key, pub: pub}, nil
}

// LoadOrCreateKey loads the PEM key at path ("EC PRIVATE KEY" or PKCS#8
// "PRIVATE KEY", unencrypted), or creates a new P-256 key there (0600).
func LoadOrCreateKey(path string) (*Signer, error) {
	return NewSigner(context.Background(), FileKey(path))
}

// PublicKey returns the verification key.
func (s *Signer) PublicKey() crypto.PublicKey { return s.pub }

// PublicKeyPEM returns the public key as a PKIX "PUBLIC KEY" PEM block, the
// format `cosign verify --key` reads.
func (s *Signer) PublicKeyPEM() []byte {
	der, err := x509.MarshalPKIXPublicKey(s.pub)
	if err != nil { // cannot happen for a P-256 key
		panic(fmt.Sprintf("attest: marshalling public key: %v", err))
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// KeyID is "sha256:" and the hex SHA-256 of the public key's PKIX DER
// encoding: the key id recorded in build evidence and checked by release
// policies.
func (s *Signer) KeyID() string {
	der, err := x509.MarshalPKIXPublicKey(s.pub)
	if err != nil { // cannot happen for a P-256 key
		panic(fmt.Sprintf("attest: marshalling public key: %v", err))
	}
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Sign returns the ASN.1 ECDSA signature of SHA-256(data).
func (s *Signer) Sign(data []byte) ([]byte, error) {
	sum := sha256.Sum256(data)
	sig, err := s.key.Sign(rand.Reader, sum[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return sig, nil
}

// ParsePublicKeyPEM reads a PKIX "PUBLIC KEY" PEM block (cosign's .pub).
func ParsePublicKeyPEM(b []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New("no PUBLIC KEY PEM block found")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing public key: %w", err)
	}
	return pub, nil
}

func readKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading signing key: %w", err)
	}
	key, err := parsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	return key, nil
}

// parsePrivateKey reads the first private key PEM block in b.
func parsePrivateKey(b []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		switch {
		case block == nil:
			return nil, errors.New("no PEM private key found")
		case strings.Contains(block.Type, "ENCRYPTED"):
			return nil, fmt.Errorf("%s is encrypted: supply an unencrypted PKCS#8 or EC key", block.Type)
		case block.Type == "EC PRIVATE KEY":
			k, err := x509.ParseECPrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parsing EC private key: %w", err)
			}
			return k, nil
		case block.Type == "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parsing PKCS#8 private key: %w", err)
			}
			s, ok := k.(crypto.Signer)
			if !ok {
				return nil, fmt.Errorf("unsupported private key type %T", k)
			}
			return s, nil
		}
	}
}

// createKey writes a new P-256 key as PKCS#8 PEM, mode 0600. The file
// appears complete or not at all (temporary file + hard link, which fails
// if the path exists); if another process created it first, its key is used.
func createKey(path string) (crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding signing key: %w", err)
	}
	err = keyfile.Create(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if errors.Is(err, fs.ErrExist) {
		return readKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("writing signing key: %w", err)
	}
	return key, nil
}
