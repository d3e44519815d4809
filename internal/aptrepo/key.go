package aptrepo

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/kilnbuild/kiln/internal/keyfile"
)

// Keys holds one OpenPGP signing key per namespace, as armored private
// key files DIR/NAMESPACE_UID.asc (mode 0600, in a 0700 directory),
// created on first use. A namespace's repositories are signed with its key
// only: a tenant never holds a private key, and no request can choose
// another namespace's key than the one of the repository it reads. The
// key is bound to the namespace's UID, not only its name: a namespace
// deleted and created again under the same name is another namespace and
// never signs with the old key, even if a request raced the deletion.
type Keys struct{ Dir string }

// nsPattern is a Kubernetes namespace name and uidPattern an object UID;
// only such names become key file names.
var (
	nsPattern  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	uidPattern = regexp.MustCompile(`^[a-zA-Z0-9-]{1,64}$`)
)

// Namespace identifies a namespace: its name and its UID.
type Namespace struct{ Name, UID string }

func (n Namespace) check() error {
	if !nsPattern.MatchString(n.Name) || !uidPattern.MatchString(n.UID) {
		return fmt.Errorf("namespace %q (uid %q) is not a namespace name and uid", n.Name, n.UID)
	}
	return nil
}

// signingConfig makes v4 Ed25519 (EdDSA legacy) keys, which gpgv and
// sqv (apt's verifiers) accept, and SHA-512 signatures.
func signingConfig() *packet.Config {
	return &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Curve: packet.Curve25519, DefaultHash: crypto.SHA512}
}

// Signer returns namespace ns's key, creating it when it does not exist.
func (k Keys) Signer(ns Namespace) (*Signer, error) {
	if err := ns.check(); err != nil {
		return nil, err
	}
	file := filepath.Join(k.Dir, ns.Name+"_"+ns.UID+".asc")
	s, err := readSigner(file)
	if errors.Is(err, fs.ErrNotExist) {
		return createSigner(file, ns.Name)
	}
	return s, err
}

// Remove deletes every key of namespace name (the namespace is gone).
func (k Keys) Remove(name string) error {
	if !nsPattern.MatchString(name) {
		return fmt.Errorf("namespace %q is not a namespace name", name)
	}
	// Namespace names have no "_": NAME_* matches this namespace's keys only.
	files, err := filepath.Glob(filepath.Join(k.Dir, name+"_*.asc"))
	if err != nil {
		return err
	}
	var errs []error
	for _, f := range files {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Signer signs repository metadata with one OpenPGP key.
type Signer struct{ entity *openpgp.Entity }

func readSigner(file string) (*Signer, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	list, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("repository signing key %s: %w", file, err)
	}
	if len(list) != 1 || list[0].PrivateKey == nil || list[0].PrivateKey.Encrypted {
		return nil, fmt.Errorf("repository signing key %s: want one unencrypted private key", file)
	}
	return &Signer{entity: list[0]}, nil
}

// createSigner generates a key and writes it so that the file appears
// complete or not at all (temporary file + hard link, which fails when
// another process got there first; its key is then used).
func createSigner(file, ns string) (*Signer, error) {
	e, err := openpgp.NewEntity("Kiln repository signing key", "namespace "+ns, "", signingConfig())
	if err != nil {
		return nil, fmt.Errorf("generating repository signing key: %w", err)
	}
	var b bytes.Buffer
	w, err := armor.Encode(&b, openpgp.PrivateKeyType, nil)
	if err != nil {
		return nil, err
	}
	if err := errors.Join(e.SerializePrivate(w, signingConfig()), w.Close()); err != nil {
		return nil, fmt.Errorf("encoding repository signing key: %w", err)
	}
	if err := keyfile.Create(file, b.Bytes()); errors.Is(err, fs.ErrExist) {
		return readSigner(file)
	} else if err != nil {
		return nil, fmt.Errorf("writing repository signing key: %w", err)
	}
	return &Signer{entity: e}, nil
}

// Fingerprint is the primary key's fingerprint, upper-case hex, as gpg
// prints it.
func (s *Signer) Fingerprint() string {
	return strings.ToUpper(fmt.Sprintf("%x", s.entity.PrimaryKey.Fingerprint))
}

// PublicKey is the armored public key (for signed-by= in a sources line).
func (s *Signer) PublicKey() ([]byte, error) {
	var b bytes.Buffer
	w, err := armor.Encode(&b, openpgp.PublicKeyType, nil)
	if err != nil {
		return nil, err
	}
	if err := errors.Join(s.entity.Serialize(w), w.Close()); err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	b.WriteString("\n")
	return b.Bytes(), nil
}

// ClearSign returns data clear-signed (InRelease).
func (s *Signer) ClearSign(data []byte) ([]byte, error) {
	var b bytes.Buffer
	w, err := clearsign.Encode(&b, s.entity.PrivateKey, signingConfig())
	if err != nil {
		return nil, fmt.Errorf("clear-signing: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		return nil, fmt.Errorf("clear-signing: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("clear-signing: %w", err)
	}
	return withArmorChecksum(b.Bytes())
}

// sigBegin starts the signature of a clear-signed message.
var sigBegin = []byte("-----BEGIN PGP SIGNATURE-----")

// withArmorChecksum re-armors a clear-signed message's signature with the
// CRC-24 line: go-crypto leaves it out (RFC 9580 makes it optional), and
// GnuPG 2.2's gpgv, which apt runs on bookworm, then reports "no valid
// OpenPGP data" and fails.
func withArmorChecksum(signed []byte) ([]byte, error) {
	block, _ := clearsign.Decode(signed)
	at := bytes.LastIndex(signed, sigBegin)
	if block == nil || at < 0 {
		return nil, errors.New("clear-signing: the signed message cannot be read back")
	}
	sig, err := io.ReadAll(block.ArmoredSignature.Body)
	if err != nil {
		return nil, fmt.Errorf("clear-signing: reading the signature back: %w", err)
	}
	out := bytes.NewBuffer(slices.Clone(signed[:at]))
	w, err := armor.Encode(out, openpgp.SignatureType, nil)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(sig); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	out.WriteString("\n")
	return out.Bytes(), nil
}

// DetachSign returns an armored detached signature of data (Release.gpg).
func (s *Signer) DetachSign(data []byte) ([]byte, error) {
	var b bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&b, s.entity, bytes.NewReader(data), signingConfig()); err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	b.WriteString("\n")
	return b.Bytes(), nil
}
