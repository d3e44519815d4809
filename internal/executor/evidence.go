package executor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/attest"
	"github.com/kilnbuild/kiln/internal/oci"
	"github.com/kilnbuild/kiln/internal/pipeline"
	"github.com/spdx/tools-golang/spdx"
)

// Attestor signs what builds produce, in Kiln's own process: the key never
// enters a sandbox, so a pipeline cannot forge its provenance.
type Attestor struct {
	Signer *attest.Signer
	// BuilderID is the SLSA builder id of this installation.
	BuilderID string
	// Version is Kiln's version, recorded in the provenance.
	Version string
	// Dir keeps a copy of each build's provenance and SBOMs, served by the
	// API (EvidencePath).
	Dir string

	// publishing serialises publication per artifact digest: builds with
	// identical output push evidence for the same artifact, and each adds
	// to what the other wrote.
	publishing keyedMutex
}

// keyedMutex is a mutex per key; the zero value is ready to use.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedLock
}

type keyedLock struct {
	sync.Mutex
	users int
}

// lock locks key and returns its unlock function.
func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyedLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyedLock{}
		k.locks[key] = l
	}
	l.users++
	k.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		k.mu.Lock()
		if l.users--; l.users == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}

// Evidence file names kept per build.
const (
	EvidenceProvenance = "provenance.json"
	EvidenceSPDX       = "sbom.spdx.json"
	EvidenceCycloneDX  = "sbom.cdx.json"
)

// EvidencePath is where a build's evidence file is kept.
func EvidencePath(dir, ns, name, file string) string {
	return filepath.Join(evidenceDir(dir, ns), name, file)
}

// evidenceDir holds the evidence of every build of namespace ns.
func evidenceDir(dir, ns string) string { return filepath.Join(dir, ns) }

// evidenceInput is what one build hands the Attestor.
type evidenceInput struct {
	job       Job
	out       Outcome
	outputDir string
	sourceDir string
	params    map[string]string
	started   time.Time
	log       *hashingWriter
	// prefetched are the files the prefetch steps downloaded.
	prefetched []pipeline.FileRecord
	// worker ran the steps remotely; nil when this server did.
	worker *attest.WorkerRun
}

// attestBuild produces, signs and pushes the evidence for out.Artifact and
// keeps a copy for the API. It fails if the registry no longer holds the
// digest the build pushed.
func (a *Attestor) attestBuild(ctx context.Context, in evidenceInput, rem oci.Remote) (*v1alpha1.BuildEvidence, error) {
	b, art := in.job.Build, in.out.Artifact
	subject := attest.Artifact{Name: art.Repository, Digest: art.Digest}
	mat := materials(in.job, in.out)
	for _, f := range in.prefetched {
		mat.Prefetched = append(mat.Prefetched, attest.File{Name: f.Path, URL: "kiln:prefetch/" + f.Path, SHA256: f.SHA256})
	}
	now := time.Now()
	logSum, logLen := in.log.sum()
	prov, err := attest.Provenance(attest.ProvenanceInput{
		Artifact: subject, Materials: mat, Params: in.params, Namespace: b.Namespace, Component: b.Spec.Component,
		BuilderID: a.BuilderID, BuilderVersion: map[string]string{"kiln": a.Version}, BuildName: b.Name,
		StartedOn: in.started, FinishedOn: now, Worker: in.worker,
		Log: &attest.File{Name: "build.log", URL: "kiln:builds/" + b.Namespace + "/" + b.Name + "/log?bytes=0-" + strconv.FormatInt(logLen-1, 10), SHA256: logSum},
	})
	if err != nil {
		return nil, fmt.Errorf("provenance: %w", err)
	}
	sbomIn := attest.SBOMInput{Artifact: subject, Materials: mat, OutputDir: in.outputDir, SourceDir: in.sourceDir,
		Created: now, Tool: "kiln-" + a.Version, Namespace: a.BuilderID + "/spdx/" + b.Namespace + "/" + b.Name + "/" + string(b.UID)}
	sbom, err := attest.SBOM(sbomIn)
	if err != nil {
		return nil, fmt.Errorf("SBOM: %w", err)
	}
	unlock := a.publishing.lock(art.Repository + "@" + art.Digest)
	pub, err := attest.Publish(ctx, art.Repository+"@"+art.Digest, a.Signer, attest.Evidence{Provenance: prov, SBOM: sbom}, rem)
	unlock()
	if err != nil {
		return nil, err
	}
	ev := &v1alpha1.BuildEvidence{
		Signature:      ref(art.Repository, art.Digest, "sig", pub.Signature.Digest),
		Attestations:   ref(art.Repository, art.Digest, "att", pub.Attestations.Digest),
		PredicateTypes: []string{attest.PredicateSLSA, attest.PredicateSPDX},
		BuilderID:      a.BuilderID, KeyID: a.Signer.KeyID(),
		SBOMPackages: len(sbom.Packages), SBOMFiles: len(sbom.Files),
	}
	if pub.SBOM != nil {
		ev.SBOM = ref(art.Repository, art.Digest, "sbom", pub.SBOM.Digest)
	}
	return ev, a.keep(b, prov, sbom, sbomIn)
}

func ref(repo, digest, suffix, manifest string) string {
	return repo + ":" + "sha256-" + digest[len("sha256:"):] + "." + suffix + "@" + manifest
}

// keep writes the provenance and both SBOM formats for the API.
func (a *Attestor) keep(b *v1alpha1.Build, prov *attest.Statement, spdxDoc *spdx.Document, sbomIn attest.SBOMInput) error {
	dir := filepath.Dir(EvidencePath(a.Dir, b.Namespace, b.Name, EvidenceProvenance))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("keeping evidence: %w", err)
	}
	provJSON, err := json.MarshalIndent(prov, "", "  ")
	if err != nil {
		return err
	}
	spdxJSON, err := attest.MarshalSPDX(spdxDoc)
	if err != nil {
		return err
	}
	bom, err := attest.CycloneDX(sbomIn)
	if err != nil {
		return err
	}
	cdxJSON, err := attest.MarshalCycloneDX(bom)
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{EvidenceProvenance: provJSON, EvidenceSPDX: spdxJSON, EvidenceCycloneDX: cdxJSON} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return fmt.Errorf("keeping evidence: %w", err)
		}
	}
	return nil
}

// copyEvidence keeps a cached build's evidence under the new build's name:
// the reused artifact's evidence is the earlier build's.
func (a *Attestor) copyEvidence(ns, from, to string) error {
	dir := filepath.Dir(EvidencePath(a.Dir, ns, to, EvidenceProvenance))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, name := range []string{EvidenceProvenance, EvidenceSPDX, EvidenceCycloneDX} {
		data, err := os.ReadFile(EvidencePath(a.Dir, ns, from, name))
		if err != nil {
			return fmt.Errorf("evidence of build %s: %w", from, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// materials lists what the build consumed.
func materials(job Job, out Outcome) attest.Materials {
	g := job.Component.Spec.Source.Git
	ref := job.Build.Spec.Revision
	if ref == "" {
		ref = g.Revision
	}
	m := attest.Materials{
		Source:       attest.Source{URL: g.URL, Ref: ref, Commit: out.Commit, TreeHash: out.TreeHash},
		Pipeline:     attest.Pipeline{Source: out.Pipeline.Source, Digest: out.Pipeline.Digest},
		Dependencies: dependencies(job.Build.Spec.Inputs),
		Packages:     packageMaterials(out.Buildroot),
	}
	for _, s := range out.Steps {
		if s.Phase == "Skipped" || s.Image == "" || (s.ImageDigest == "" && s.Image != pipeline.HostImage) {
			continue // only images that ran, resolved by the registry
		}
		m.Steps = append(m.Steps, attest.StepImage{Task: s.Task, Step: s.Name, Image: s.Image, Digest: s.ImageDigest})
	}
	return m
}

// buildParams are the parameters the build ran with, as strings.
func buildParams(c *v1alpha1.Component, b *v1alpha1.Build) map[string]string {
	out := map[string]string{}
	if c.Spec.Build != nil {
		for _, p := range c.Spec.Build.Params {
			out[p.Name] = p.Value
		}
	}
	for _, p := range b.Spec.Params {
		out[p.Name] = p.Value
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// hashingWriter passes the log through and hashes it, so the provenance
// can record the digest of the log written before signing.
type hashingWriter struct {
	mu sync.Mutex
	w  io.Writer
	h  hash.Hash
	n  int64
}

func newHashingWriter(w io.Writer) *hashingWriter { return &hashingWriter{w: w, h: sha256.New()} }

func (h *hashingWriter) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	n, err := h.w.Write(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}

func (h *hashingWriter) sum() (string, int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return hex.EncodeToString(h.h.Sum(nil)), h.n
}
