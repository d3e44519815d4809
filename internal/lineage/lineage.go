// Package lineage is the contract of the trace index: a graph of what Kiln
// made and what it was made from, stored beside the objects (in the same
// database) so that `kiln trace` can walk it in both directions.
//
// Nodes are things — a git source, a commit, a build, an artifact, an SBOM
// package, a snapshot, a release, a destination… — each in one namespace
// (the trace never crosses into a namespace its caller cannot read). Edges
// point downstream: from an ingredient to what was made with it (commit →
// build → artifact → snapshot → release, artifact → destination).
//
// Every edge is asserted by a Source: one piece of evidence of one Record
// (a Build, Snapshot, Release or imported artifact). A Source says how far
// its edges can be trusted: Kiln's own record, an attestation whose
// signature verified (with the key's id), or one that did not (with the
// reason). The same edge asserted by several sources is stored once per
// source. Writing a Record replaces everything it asserted before, so
// writes are idempotent and a record can be re-indexed at any time.
//
// Backends implement Index and pass lineagetest.Run; internal/store/sqlstore
// implements it for SQLite and PostgreSQL.
package lineage

import (
	"context"
	"errors"
)

// NodeKind is what a node is.
type NodeKind string

// Node kinds.
const (
	// KindSource is a git repository; key: its URL.
	KindSource NodeKind = "source"
	// KindCommit is one commit of a repository; key: URL@sha, alt: sha.
	KindCommit NodeKind = "commit"
	// KindBuild is a Kiln Build (key: its name) or a build elsewhere that
	// an imported provenance describes (key: builder id#invocation).
	KindBuild NodeKind = "build"
	// KindArtifact is an OCI artifact; key: repository@digest, alt: digest.
	KindArtifact NodeKind = "artifact"
	// KindPipeline is a compiled pipeline; key: its digest.
	KindPipeline NodeKind = "pipeline"
	// KindImage is a step image; key: its manifest digest.
	KindImage NodeKind = "image"
	// KindFile is a prefetched file; key: sha256:HEX.
	KindFile NodeKind = "file"
	// KindPackage is a package an SBOM lists; key: its purl without
	// qualifiers, alt: the purl without version.
	KindPackage NodeKind = "package"
	// KindSnapshot is a Snapshot; key: its name.
	KindSnapshot NodeKind = "snapshot"
	// KindRelease is a Release; key: its name.
	KindRelease NodeKind = "release"
	// KindDestination is where a release published an artifact: a
	// registry repository@digest or a static repository path.
	KindDestination NodeKind = "destination"
)

// NodeKinds lists every node kind.
var NodeKinds = []NodeKind{KindSource, KindCommit, KindBuild, KindArtifact, KindPipeline, KindImage, KindFile,
	KindPackage, KindSnapshot, KindRelease, KindDestination}

// EdgeKind says how the downstream node was made with the upstream one.
type EdgeKind string

// Edge kinds (from → to).
const (
	EdgeRevision  EdgeKind = "revision"   // source → commit
	EdgeSource    EdgeKind = "source"     // commit → build
	EdgePipeline  EdgeKind = "pipeline"   // pipeline → build
	EdgeStepImage EdgeKind = "step-image" // image → build
	EdgeInput     EdgeKind = "input"      // artifact → build (a dependency artifact at /kiln/deps)
	EdgePrefetch  EdgeKind = "prefetched" // file → build
	EdgeCache     EdgeKind = "cache"      // build → build whose artifact it reused
	EdgeOutput    EdgeKind = "output"     // build → artifact
	EdgeContains  EdgeKind = "contains"   // package → artifact (the SBOM lists it)
	EdgeMember    EdgeKind = "member"     // artifact → snapshot
	EdgeReleased  EdgeKind = "released"   // snapshot → release
	EdgePublished EdgeKind = "published"  // artifact → destination (or release → destination)
)

// Origin is the kind of evidence a Source is.
type Origin string

// Origins.
const (
	// OriginRecord is an object Kiln keeps (a Build's status, a Snapshot's
	// spec, a Release's status).
	OriginRecord Origin = "record"
	// OriginProvenance is a SLSA provenance statement.
	OriginProvenance Origin = "provenance"
	// OriginSBOM is an SBOM (SPDX or CycloneDX) statement.
	OriginSBOM Origin = "sbom"
)

// Trust says how far a Source's edges can be believed.
type Trust string

// Trust levels.
const (
	// TrustRecord: Kiln's own records (written by Kiln's process only).
	TrustRecord Trust = "kiln-record"
	// TrustVerified: an attestation whose signature verified with the key
	// KeyID names (the builder's, a policy's, or one given at import).
	TrustVerified Trust = "verified"
	// TrustUnverified: an attestation that did not verify; Reason says why.
	TrustUnverified Trust = "unverified"
)

// Direction of a walk.
type Direction int

// Directions: Up follows edges to what a node was made from; Down to what
// was made with it.
const (
	Up Direction = iota
	Down
)

// RecordKey names the object that asserted a set of edges.
type RecordKey struct {
	// Kind is Build, Snapshot, Release or Import.
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

func (k RecordKey) String() string { return k.Kind + " " + k.Namespace + "/" + k.Name }

// NodeRef identifies a node and describes it; writing a Record creates the
// nodes its edges name.
type NodeRef struct {
	Kind      NodeKind
	Namespace string
	Key       string
	// Alt is a second lookup value (a commit's sha, an artifact's digest, a
	// package's versionless purl); empty means Key.
	Alt string
	// Label is what to show; empty means Key.
	Label string
	// Attrs are extra facts shown with the node.
	Attrs map[string]string
	// Owned: the record is the authority on this node, and its Label and
	// Attrs replace what was stored. Other references only create the node
	// if it is missing.
	Owned bool
}

// EdgeRef is one edge a Source asserts.
type EdgeRef struct {
	From, To NodeRef
	Kind     EdgeKind
}

// Evidence is one Source of a Record and the edges it asserts.
type Evidence struct {
	Origin Origin
	Trust  Trust
	// KeyID is the verifying key's id (TrustVerified).
	KeyID string
	// Reason says why an attestation did not verify (TrustUnverified).
	Reason string
	// Detail locates the evidence, e.g. the attestation manifest.
	Detail string
	Edges  []EdgeRef
}

// Record is everything one object asserts. Applying it replaces what the
// same RecordKey asserted before.
type Record struct {
	Key RecordKey
	// Version is what was indexed (e.g. the object's resource version), so
	// that an indexer resuming after a restart can skip what is current.
	Version  string
	Evidence []Evidence
	// Nodes are created even without edges (e.g. a build that produced
	// nothing yet), as owned nodes.
	Nodes []NodeRef
}

// Node is a stored node.
type Node struct {
	ID        int64             `json:"-"`
	Kind      NodeKind          `json:"kind"`
	Namespace string            `json:"namespace"`
	Key       string            `json:"key"`
	Alt       string            `json:"-"`
	Label     string            `json:"label"`
	Attrs     map[string]string `json:"attrs,omitempty"`
}

// Edge is a stored edge.
type Edge struct {
	From, To int64
	Kind     EdgeKind
	Source   int64
}

// Source is a stored piece of evidence.
type Source struct {
	ID     int64
	Record RecordKey
	Origin Origin
	Trust  Trust
	KeyID  string
	Reason string
	Detail string
}

// Match selects start nodes: by Kind and Key, or by Kind and Alt; in one
// Namespace, or in all when it is empty.
type Match struct {
	Kind      NodeKind
	Key       string
	Alt       string
	Namespace string
	// Limit bounds the result (0: no bound).
	Limit int
}

// Stats counts what the index holds.
type Stats struct {
	Nodes   int64 `json:"nodes"`
	Edges   int64 `json:"edges"`
	Records int64 `json:"records"`
	Sources int64 `json:"sources"`
}

// Index is the trace index. All methods are safe for concurrent use.
type Index interface {
	// Apply writes records atomically, each replacing what it asserted
	// before; nodes left without any edge by the replacement are removed.
	Apply(ctx context.Context, recs ...Record) error
	// Delete removes what the records asserted (unknown keys are ignored).
	Delete(ctx context.Context, keys ...RecordKey) error
	// PurgeNamespace removes every record and node of namespace ns and every
	// edge touching those nodes.
	PurgeNamespace(ctx context.Context, ns string) error
	// Reset empties the index.
	Reset(ctx context.Context) error
	// RecordVersion returns the Version last applied for key; ok is false
	// when the record is not indexed.
	RecordVersion(ctx context.Context, key RecordKey) (version string, ok bool, err error)
	// Records lists the indexed records of a kind (all kinds when empty).
	Records(ctx context.Context, kind string) ([]RecordKey, error)
	// Find returns the nodes m selects, ordered by namespace and key.
	Find(ctx context.Context, m Match) ([]Node, error)
	// Edges returns the edges of the nodes of ids in direction d: Up, the
	// edges into them (from what they were made from); Down, out of them.
	// Both directions are index scans that read no node.
	Edges(ctx context.Context, d Direction, ids []int64) ([]Edge, error)
	// Nodes returns the nodes with these ids, in no particular order.
	Nodes(ctx context.Context, ids []int64) ([]Node, error)
	// Sources returns the sources with these ids.
	Sources(ctx context.Context, ids []int64) ([]Source, error)
	Stats(ctx context.Context) (Stats, error)
}

// ErrInvalid marks a record or query that cannot be stored or answered.
var ErrInvalid = errors.New("invalid lineage request")

// AltOrKey returns the lookup value of r: Alt, else Key.
func (r NodeRef) AltOrKey() string {
	if r.Alt != "" {
		return r.Alt
	}
	return r.Key
}

// LabelOrKey returns the label of r: Label, else Key.
func (r NodeRef) LabelOrKey() string {
	if r.Label != "" {
		return r.Label
	}
	return r.Key
}

// Validate checks a record before it is written.
func (r *Record) Validate() error {
	if r.Key.Kind == "" || r.Key.Name == "" {
		return errors.Join(ErrInvalid, errors.New("record needs a kind and a name"))
	}
	for _, ev := range r.Evidence {
		for _, e := range ev.Edges {
			if err := e.From.validate(); err != nil {
				return err
			}
			if err := e.To.validate(); err != nil {
				return err
			}
			if e.Kind == "" {
				return errors.Join(ErrInvalid, errors.New("edge without a kind"))
			}
		}
	}
	for _, n := range r.Nodes {
		if err := n.validate(); err != nil {
			return err
		}
	}
	return nil
}

func (r NodeRef) validate() error {
	if r.Kind == "" || r.Key == "" {
		return errors.Join(ErrInvalid, errors.New("node needs a kind and a key"))
	}
	return nil
}
