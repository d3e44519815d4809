package trace

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/attest"
	"github.com/kilnbuild/kiln/internal/lineage"
)

// Bounds of one import.
const (
	MaxImportAttestations = 64
	MaxImportBytes        = 32 << 20
)

// ImportRequest brings an artifact built elsewhere into the index with its
// attestations (DSSE envelopes as its registry holds them, read by the
// client). The server verifies them itself: against PublicKey (PEM), or
// the publicKey of the namespace's Policy named Policy; with neither, every
// edge is recorded as unverified.
type ImportRequest struct {
	Namespace    string            `json:"namespace"`
	Artifact     string            `json:"artifact"`
	PublicKey    string            `json:"publicKey,omitempty"`
	Policy       string            `json:"policy,omitempty"`
	Attestations []attest.Envelope `json:"attestations"`
}

// ImportResult says what an import added.
type ImportResult struct {
	Artifact   string `json:"artifact"`
	KeyID      string `json:"keyId,omitempty"`
	Verified   int    `json:"verified"`
	Unverified int    `json:"unverified"`
	// Reasons are why statements did not verify.
	Reasons []string `json:"reasons,omitempty"`
	Edges   int      `json:"edges"`
}

// InvalidError is a request the caller must fix.
type InvalidError struct{ Msg string }

func (e *InvalidError) Error() string { return e.Msg }

func invalid(format string, args ...any) error {
	return &InvalidError{Msg: fmt.Sprintf(format, args...)}
}

// Import verifies and indexes req, and keeps it so that reindexing finds
// it again.
func (ix *Indexer) Import(ctx context.Context, req ImportRequest) (*ImportResult, error) {
	if nameRE.MatchString(req.Namespace) {
		ns, err := ix.get(ctx, "Namespace", "", req.Namespace)
		if err != nil {
			return nil, err
		}
		if ns == nil || ns.GetDeletionTimestamp() != nil {
			return nil, invalid("namespace %q does not exist: create it first", req.Namespace)
		}
	}
	rec, res, err := ix.importRecord(ctx, req)
	if err != nil {
		return nil, err
	}
	if err := ix.keepImport(req); err != nil {
		return nil, err
	}
	return res, ix.Index.Apply(ctx, rec)
}

func (ix *Indexer) importRecord(ctx context.Context, req ImportRequest) (lineage.Record, *ImportResult, error) {
	repo, digest, err := checkImport(req)
	if err != nil {
		return lineage.Record{}, nil, err
	}
	key, keyID, err := ix.importKey(ctx, req)
	if err != nil {
		return lineage.Record{}, nil, err
	}
	s := statementReader{ns: req.Namespace, repo: repo, digest: digest, key: key, keyID: keyID, detail: "imported " + req.Artifact}
	evs := s.evidence(ctx, req.Attestations)
	if len(evs) == 0 {
		return lineage.Record{}, nil, invalid("none of the %d attestations of %s is a SLSA provenance or an SPDX/CycloneDX SBOM in a readable DSSE envelope", len(req.Attestations), req.Artifact)
	}
	res := &ImportResult{Artifact: req.Artifact, KeyID: keyID}
	for _, ev := range evs {
		res.Edges += len(ev.Edges)
		if ev.Trust == lineage.TrustVerified {
			res.Verified++
		} else {
			res.Unverified++
			res.Reasons = append(res.Reasons, string(ev.Origin)+": "+ev.Reason)
		}
	}
	rec := lineage.Record{Key: recordKey(recordImport, req.Namespace, req.Artifact), Version: importVersion(req), Evidence: evs}
	return rec, res, nil
}

func checkImport(req ImportRequest) (repo, digest string, err error) {
	if !nameRE.MatchString(req.Namespace) {
		return "", "", invalid("namespace %q: give the namespace to import into (-n)", req.Namespace)
	}
	repo, digest, ok := strings.Cut(req.Artifact, "@")
	if !ok || repo == "" || !digestRE.MatchString(digest) {
		return "", "", invalid("artifact %q: want REPOSITORY@sha256:<64 hex digits>", req.Artifact)
	}
	if n := len(req.Attestations); n == 0 || n > MaxImportAttestations {
		return "", "", invalid("%d attestations: an import carries 1 to %d", n, MaxImportAttestations)
	}
	if req.PublicKey != "" && req.Policy != "" {
		return "", "", invalid("give a public key or a policy, not both")
	}
	return repo, digest, nil
}

// importKey is the key the request names, and its id.
func (ix *Indexer) importKey(ctx context.Context, req ImportRequest) (crypto.PublicKey, string, error) {
	pemKey := req.PublicKey
	if req.Policy != "" {
		obj, err := ix.get(ctx, "Policy", req.Namespace, req.Policy)
		if err != nil {
			return nil, "", err
		}
		p, _ := obj.(*v1alpha1.Policy)
		if p == nil || p.Spec.PublicKey == "" {
			return nil, "", invalid("policy %s/%s does not exist or has no publicKey", req.Namespace, req.Policy)
		}
		pemKey = p.Spec.PublicKey
	}
	if pemKey == "" {
		return nil, "", nil
	}
	key, err := attest.ParsePublicKeyPEM([]byte(pemKey))
	if err != nil {
		return nil, "", invalid("public key: %v (want a PEM PUBLIC KEY, as `cosign verify --key` takes)", err)
	}
	return key, KeyID(key), nil
}

// KeyID is "sha256:" of a public key's PKIX DER encoding (as Kiln names its
// builder key).
func KeyID(key crypto.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func importVersion(req ImportRequest) string {
	raw, _ := json.Marshal(req)
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:8]) + "/" + recordSchema
}

// importPath is where an import of ns is kept.
func (ix *Indexer) importPath(ns, artifact string) string {
	sum := sha256.Sum256([]byte(artifact))
	return filepath.Join(ix.ImportDir, ns, "_imports", hex.EncodeToString(sum[:16])+".json")
}

func (ix *Indexer) keepImport(req ImportRequest) error {
	if ix.ImportDir == "" {
		return nil
	}
	path := ix.importPath(req.Namespace, req.Artifact)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("keeping the import: %w", err)
	}
	raw, err := json.Marshal(req)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return fmt.Errorf("keeping the import: %w", err)
	}
	return os.Rename(tmp, path)
}

// keptImports reads every kept import.
func (ix *Indexer) keptImports() ([]ImportRequest, error) {
	if ix.ImportDir == "" {
		return nil, nil
	}
	paths, err := filepath.Glob(filepath.Join(ix.ImportDir, "*", "_imports", "*.json"))
	if err != nil {
		return nil, err
	}
	var out []ImportRequest
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading import %s: %w", p, err)
		}
		var req ImportRequest
		if err := json.Unmarshal(raw, &req); err != nil {
			return nil, fmt.Errorf("reading import %s: %w", p, err)
		}
		out = append(out, req)
	}
	return out, nil
}
