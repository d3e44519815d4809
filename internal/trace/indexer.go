package trace

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/attest"
	"github.com/kilnbuild/kiln/internal/controller"
	"github.com/kilnbuild/kiln/internal/lineage"
	"github.com/kilnbuild/kiln/internal/oci"
	"github.com/kilnbuild/kiln/internal/registry"
	"github.com/kilnbuild/kiln/internal/store"
)

// Kept evidence file names (internal/build keeps them per build).
const (
	keptProvenance = "provenance.json"
	keptSPDX       = "sbom.spdx.json"
)

// Indexer keeps the trace index current: a controller per kind that carries
// edges (Builds, Snapshots, Releases; BuildGroups re-check their members;
// a deleted Namespace is purged), each record replaced whole and skipped
// when the index already holds its version, so restarts resume from the
// index's own state.
type Indexer struct {
	Registry *registry.Registry
	Index    lineage.Index
	// Remote gives the credentials to read an artifact's attestations.
	Remote func(ref string) oci.Remote
	// EvidencePath locates a build's kept evidence file.
	EvidencePath func(ns, build, file string) string
	// ImportDir keeps imported attestations: ImportDir/<ns>/_imports/….
	ImportDir string
	// BuilderKey verifies Kiln's own attestations; BuilderKeyID names it and
	// BuilderID is the builder id its provenance must carry.
	BuilderKey   crypto.PublicKey
	BuilderKeyID string
	BuilderID    string
	Log          *slog.Logger
}

// Register adds the indexer's controllers to m.
func (ix *Indexer) Register(m *controller.Manager) {
	opts := controller.Options{Workers: 2, Resync: time.Hour}
	m.Register("trace-index-builds", controller.ReconcileFunc(ix.reconcileBuild), opts,
		controller.Source{Kind: "Build"}, controller.Source{Kind: "BuildGroup", Map: groupMembers})
	m.Register("trace-index-snapshots", controller.ReconcileFunc(ix.reconcileSnapshot), opts, controller.Source{Kind: "Snapshot"})
	m.Register("trace-index-releases", controller.ReconcileFunc(ix.reconcileRelease), opts, controller.Source{Kind: "Release"})
	m.Register("trace-index-namespaces", controller.ReconcileFunc(ix.reconcileNamespace), controller.Options{Workers: 1, Resync: -1},
		controller.Source{Kind: "Namespace", DeletesOnly: true})
}

// groupMembers maps a BuildGroup event to its members' builds.
func groupMembers(ev store.Event) []controller.Request {
	var g v1alpha1.BuildGroup
	if json.Unmarshal(ev.Object.Data, &g) != nil {
		return nil
	}
	var out []controller.Request
	for _, m := range g.Status.Members {
		for _, b := range m.Builds {
			out = append(out, controller.Request{Namespace: ev.Object.Namespace, Name: b})
		}
	}
	return out
}

func (ix *Indexer) get(ctx context.Context, kind, ns, name string) (v1alpha1.Object, error) {
	obj, err := ix.Registry.Get(ctx, v1alpha1.MustLookup(kind), ns, name, registry.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return obj, err
}

// current reports whether the index holds key at version.
func (ix *Indexer) current(ctx context.Context, key lineage.RecordKey, version string) (bool, error) {
	v, ok, err := ix.Index.RecordVersion(ctx, key)
	return ok && v == version, err
}

// forget removes a record that is indexed but should not be.
func (ix *Indexer) forget(ctx context.Context, key lineage.RecordKey) error {
	if _, ok, err := ix.Index.RecordVersion(ctx, key); err != nil || !ok {
		return err
	}
	return ix.Index.Delete(ctx, key)
}

func (ix *Indexer) reconcileBuild(ctx context.Context, req controller.Request) (controller.Result, error) {
	key := recordKey("Build", req.Namespace, req.Name)
	obj, err := ix.get(ctx, "Build", req.Namespace, req.Name)
	if err != nil {
		return controller.Result{}, err
	}
	b, _ := obj.(*v1alpha1.Build)
	if b == nil || b.Status.Phase != v1alpha1.BuildSucceeded || b.DeletionTimestamp != nil {
		return controller.Result{}, ix.forget(ctx, key)
	}
	if ok, err := ix.current(ctx, key, versionOf(b.ResourceVersion)); err != nil || ok {
		return controller.Result{}, err
	}
	rec, err := ix.BuildRecord(ctx, b)
	if err != nil {
		return controller.Result{}, err
	}
	return controller.Result{}, ix.Index.Apply(ctx, rec)
}

func (ix *Indexer) reconcileSnapshot(ctx context.Context, req controller.Request) (controller.Result, error) {
	key := recordKey("Snapshot", req.Namespace, req.Name)
	obj, err := ix.get(ctx, "Snapshot", req.Namespace, req.Name)
	if err != nil {
		return controller.Result{}, err
	}
	s, _ := obj.(*v1alpha1.Snapshot)
	if s == nil || s.DeletionTimestamp != nil {
		return controller.Result{}, ix.forget(ctx, key)
	}
	if ok, err := ix.current(ctx, key, versionOf(s.ResourceVersion)); err != nil || ok {
		return controller.Result{}, err
	}
	return controller.Result{}, ix.Index.Apply(ctx, snapshotRecord(s))
}

func (ix *Indexer) reconcileRelease(ctx context.Context, req controller.Request) (controller.Result, error) {
	key := recordKey("Release", req.Namespace, req.Name)
	obj, err := ix.get(ctx, "Release", req.Namespace, req.Name)
	if err != nil {
		return controller.Result{}, err
	}
	r, _ := obj.(*v1alpha1.Release)
	if r == nil || r.Status.Phase != v1alpha1.ReleaseSucceeded || r.DeletionTimestamp != nil {
		return controller.Result{}, ix.forget(ctx, key)
	}
	if ok, err := ix.current(ctx, key, versionOf(r.ResourceVersion)); err != nil || ok {
		return controller.Result{}, err
	}
	rec, err := ix.ReleaseRecord(ctx, r)
	if err != nil {
		return controller.Result{}, err
	}
	return controller.Result{}, ix.Index.Apply(ctx, rec)
}

// ReleaseRecord reads the released Snapshot and describes the release.
func (ix *Indexer) ReleaseRecord(ctx context.Context, r *v1alpha1.Release) (lineage.Record, error) {
	obj, err := ix.get(ctx, "Snapshot", r.Namespace, r.Spec.Snapshot)
	if err != nil {
		return lineage.Record{}, err
	}
	snap, _ := obj.(*v1alpha1.Snapshot)
	return releaseRecord(r, snap), nil
}

// reconcileNamespace purges the index of a namespace once it is gone.
func (ix *Indexer) reconcileNamespace(ctx context.Context, req controller.Request) (controller.Result, error) {
	obj, err := ix.get(ctx, "Namespace", "", req.Name)
	if err != nil || obj != nil {
		return controller.Result{}, err // it exists (again): nothing to purge
	}
	return controller.Result{}, ix.Index.PurgeNamespace(ctx, req.Name)
}

// BuildRecord describes a succeeded build: what its status records (Kiln's
// record), and what its attestations claim, verified against the builder's
// key or marked unverified with the reason.
func (ix *Indexer) BuildRecord(ctx context.Context, b *v1alpha1.Build) (lineage.Record, error) {
	kept := ix.keptProvenance(b)
	url := ""
	if kept != nil {
		url = kept.BuildDefinition.ExternalParameters.Source.URI
	} else if url, _ = ix.componentURL(ctx, b); url == "" {
		ix.logger().Debug("trace: no source URL for build", "namespace", b.Namespace, "build", b.Name)
	}
	ev := lineage.Evidence{Origin: lineage.OriginRecord, Trust: lineage.TrustRecord, Edges: buildEdges(b, url)}
	if kept != nil && b.Status.CachedFrom == "" {
		n := nodes{ns: b.Namespace}
		for _, d := range kept.BuildDefinition.ResolvedDependencies {
			if d.Name != "" && d.Name != "pipeline" { // prefetched files: only the provenance lists them
				ev.Edges = append(ev.Edges, n.dependencyEdge(d, buildNode(b), "", "")...)
			}
		}
	}
	rec := lineage.Record{Key: recordKey("Build", b.Namespace, b.Name), Version: versionOf(b.ResourceVersion), Evidence: []lineage.Evidence{ev}}
	att, err := ix.attestations(ctx, b)
	if err != nil {
		return rec, err
	}
	rec.Evidence = append(rec.Evidence, att...)
	return rec, nil
}

func (ix *Indexer) logger() *slog.Logger {
	if ix.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return ix.Log
}

func (ix *Indexer) keptProvenance(b *v1alpha1.Build) *attest.SLSAProvenance {
	if ix.EvidencePath == nil {
		return nil
	}
	raw, err := os.ReadFile(ix.EvidencePath(b.Namespace, b.Name, keptProvenance))
	if err != nil {
		return nil
	}
	var st struct {
		Predicate attest.SLSAProvenance `json:"predicate"`
	}
	if json.Unmarshal(raw, &st) != nil {
		return nil
	}
	return &st.Predicate
}

func (ix *Indexer) componentURL(ctx context.Context, b *v1alpha1.Build) (string, error) {
	obj, err := ix.get(ctx, "Component", b.Namespace, b.Spec.Component)
	if c, ok := obj.(*v1alpha1.Component); ok && c.Spec.Source.Git != nil {
		return c.Spec.Source.Git.URL, err
	}
	return "", err
}

// attestations reads the primary artifact's .att from its registry and
// turns each statement into evidence. Without attestations there, the kept
// SBOM copy stands in as Kiln's record.
func (ix *Indexer) attestations(ctx context.Context, b *v1alpha1.Build) ([]lineage.Evidence, error) {
	a := b.Status.Artifact
	if a == nil || b.Status.Evidence == nil || ix.Remote == nil {
		return ix.keptSBOM(b), nil
	}
	ref := a.Repository + "@" + a.Digest
	_, digest, envs, err := attest.FetchEnvelopes(ctx, ref, ix.Remote(ref))
	if errors.Is(err, attest.ErrNoAttestations) {
		ix.logger().Warn("trace: artifact has no attestations; indexing the kept SBOM copy", "artifact", ref)
		return ix.keptSBOM(b), nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the attestations of %s: %w", ref, err)
	}
	s := statementReader{ns: b.Namespace, repo: a.Repository, digest: digest, key: ix.BuilderKey, keyID: ix.BuilderKeyID,
		builderID: ix.BuilderID, kilnBuilds: true, detail: a.Repository + ":" + strings.Replace(digest, ":", "-", 1) + ".att"}
	return s.evidence(ctx, envs), nil
}

func (ix *Indexer) keptSBOM(b *v1alpha1.Build) []lineage.Evidence {
	a := b.Status.Artifact
	if a == nil || ix.EvidencePath == nil {
		return nil
	}
	raw, err := os.ReadFile(ix.EvidencePath(b.Namespace, b.Name, keptSPDX))
	if err != nil {
		return nil
	}
	pkgs, err := spdxPackages(raw)
	if err != nil {
		return nil
	}
	n := nodes{ns: b.Namespace}
	return []lineage.Evidence{{Origin: lineage.OriginSBOM, Trust: lineage.TrustRecord, Detail: "kept copy " + keptSPDX,
		Edges: n.packageEdges(pkgs, []lineage.NodeRef{n.artifact(a.Repository, a.Digest)})}}
}
