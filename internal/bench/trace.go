package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kilnbuild/kiln/internal/lineage"
	"github.com/kilnbuild/kiln/internal/store"
	"github.com/kilnbuild/kiln/internal/store/sqlstore"
	"github.com/kilnbuild/kiln/internal/trace"
)

// TraceOptions configure `kiln bench trace`.
type TraceOptions struct {
	// Database is a postgres:// URL; empty means SQLite in a temp dir.
	Database string
	// Builds and Edges size the generated index (edges are approximate).
	Builds, Edges int
	// Namespaces the builds spread over; each is a world of its own.
	Namespaces int
	// Samples is how many traces are timed per starting point kind.
	Samples int
	// Limit and Depth bound each trace (trace.Query).
	Limit, Depth int
	Seed         uint64
	// Reuse skips writing: the database holds the index an earlier run with
	// the same options generated (the starting points are generated again).
	Reuse bool
	Log   io.Writer
}

func (o *TraceOptions) defaults() {
	o.Builds = max(o.Builds, 100)
	o.Edges = max(o.Edges, o.Builds)
	o.Namespaces = max(o.Namespaces, 1)
	o.Samples = max(o.Samples, 10)
	if o.Limit == 0 {
		o.Limit = trace.DefaultLimit
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
}

// TraceReport is what `kiln bench trace` measured.
type TraceReport struct {
	Backend     string        `json:"backend"`
	Builds      int           `json:"builds"`
	Stats       lineage.Stats `json:"stats"`
	LoadSeconds float64       `json:"loadSeconds"`
	Limit       int           `json:"limit"`
	Depth       int           `json:"depth"`
	// Starts are the timed kinds of starting point, by name.
	Starts []TraceStart `json:"starts"`
}

// TraceStart is the latency of traces from one kind of starting point.
type TraceStart struct {
	Name      string  `json:"name"`
	Direction string  `json:"direction"`
	Latency   Latency `json:"latency"`
	// MeanNodes is the mean number of nodes a trace returned; Truncated the
	// share of traces the limit stopped.
	MeanNodes float64 `json:"meanNodes"`
	Truncated float64 `json:"truncated"`
	MeanCut   float64 `json:"meanCut"`
}

// RunTrace generates an index of o.Builds builds and about o.Edges edges
// and times traces from typical starting points.
func RunTrace(ctx context.Context, o TraceOptions) (*TraceReport, error) {
	o.defaults()
	st, backend, cleanup, err := openBenchStore(ctx, o.Database)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	idx, err := trace.IndexOf(st)
	if err != nil {
		return nil, err
	}
	if !o.Reuse {
		if err := idx.Reset(ctx); err != nil {
			return nil, err
		}
	}
	g := newTraceGraph(o)
	started := time.Now()
	if err := g.load(ctx, idx, o.Log); err != nil {
		return nil, err
	}
	rep := &TraceReport{Backend: backend, Builds: o.Builds, Limit: o.Limit, Depth: o.Depth}
	if !o.Reuse {
		rep.LoadSeconds = time.Since(started).Seconds()
	}
	if rep.Stats, err = idx.Stats(ctx); err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Log, "loaded %d nodes, %d edges in %.0f s; tracing\n", rep.Stats.Nodes, rep.Stats.Edges, rep.LoadSeconds)
	e := &trace.Engine{Index: idx}
	for _, s := range g.starts() {
		ts, err := timeStarts(ctx, e, s, o)
		if err != nil {
			return nil, err
		}
		rep.Starts = append(rep.Starts, ts)
	}
	return rep, nil
}

func openBenchStore(ctx context.Context, url string) (store.Store, string, func(), error) {
	if url != "" {
		st, err := sqlstore.Open(ctx, url, store.Options{})
		return st, "postgres", func() { _ = st.Close() }, err
	}
	dir, err := os.MkdirTemp("", "kiln-bench-trace-")
	if err != nil {
		return nil, "", nil, err
	}
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "kiln.db"), store.Options{})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, "", nil, err
	}
	return st, "sqlite", func() { _ = st.Close(); _ = os.RemoveAll(dir) }, nil
}

// startKind is a named set of starting references for one direction.
type startKind struct {
	name string
	dir  lineage.Direction
	refs []string
}

// timeStarts traces o.Samples references drawn from s (after a warm-up).
func timeStarts(ctx context.Context, e *trace.Engine, s startKind, o TraceOptions) (TraceStart, error) {
	rng := rand.New(rand.NewPCG(o.Seed, 7))
	out := TraceStart{Name: s.name, Direction: map[lineage.Direction]string{lineage.Up: "up", lineage.Down: "down"}[s.dir]}
	var durs []time.Duration
	var nodes, truncated, cut int
	for i := range o.Samples + o.Samples/10 {
		ref, err := trace.ParseRef(s.refs[rng.IntN(len(s.refs))], "")
		if err != nil {
			return out, err
		}
		t0 := time.Now()
		res, err := e.Trace(ctx, trace.Query{Direction: s.dir, Ref: ref, Limit: o.Limit, Depth: o.Depth})
		if err != nil {
			return out, fmt.Errorf("%s: %w", s.name, err)
		}
		if i < o.Samples/10 {
			continue // warm-up
		}
		durs = append(durs, time.Since(t0))
		nodes, cut = nodes+len(res.Nodes), cut+res.Cut
		if res.Truncated {
			truncated++
		}
	}
	n := float64(len(durs))
	out.Latency, out.MeanNodes, out.Truncated, out.MeanCut = summarise(durs), float64(nodes)/n, float64(truncated)/n, float64(cut)/n
	return out, nil
}

// Printable names of the generated graph.
const benchRegistry = "kiln.bench:7070"

// traceGraph generates a software-factory-shaped index: per namespace,
// components in layers (layer 0 libraries, the top layer applications),
// each depending on 1–3 components of lower layers, the most popular
// libraries chosen far more often (Zipf). Every component is built once,
// then components at random, higher layers more often; every build takes
// the latest artifacts of its dependencies as inputs, so histories are
// deep and a library's artifact feeds many builds. Every tenth build's component snapshot is
// released to a registry destination.
type traceGraph struct {
	o          TraceOptions
	rng        *rand.Rand
	perNS      int
	components int
	layers     int
	deps       [][]int // component → dependencies (indices), per namespace alike
	edgesPer   int
	// sampled starting points
	leafArtifacts, libCommits []string
	purls                     map[string]string // module → a version an SBOM lists
}

func newTraceGraph(o TraceOptions) *traceGraph {
	g := &traceGraph{o: o, rng: rand.New(rand.NewPCG(o.Seed, 1)), layers: 8, purls: map[string]string{}}
	g.perNS = max(1, o.Builds/o.Namespaces)
	g.components = max(g.layers*2, g.perNS/20)
	zipf := rand.NewZipf(rand.New(rand.NewPCG(o.Seed, 2)), 1.2, 1, uint64(g.components/g.layers-1))
	g.deps = make([][]int, g.components)
	for c := range g.components {
		layer := g.layerOf(c)
		if layer == 0 {
			continue
		}
		for range 1 + g.rng.IntN(3) {
			// A library of a lower layer; low indices (popular ones) more often.
			l := g.rng.IntN(layer)
			g.deps[c] = append(g.deps[c], l*(g.components/g.layers)+int(zipf.Uint64()))
		}
	}
	// About 8.5 edges per build are structural (record, the provenance's
	// source and output, inputs, a share of snapshots and releases); the
	// rest of the target are SBOM packages.
	g.edgesPer = max(1, int(math.Round(float64(o.Edges)/float64(o.Builds)-8.5)))
	return g
}

// next picks the component of a namespace's b-th build: every component
// once, in layer order, then at random, higher layers more often
// (applications change more often than the libraries below them: layer L
// has weight L+1), so a library's artifact feeds many builds.
func (g *traceGraph) next(b int) int {
	if b < g.components {
		return b
	}
	per := g.components / g.layers
	total := per * g.layers * (g.layers + 1) / 2
	x := g.rng.IntN(total)
	l := 0
	for x >= per*(l+1) && l < g.layers-1 {
		x -= per * (l + 1)
		l++
	}
	return min(g.components-1, l*per+x/(l+1))
}

func (g *traceGraph) layerOf(c int) int { return min(g.layers-1, c/(g.components/g.layers)) }

func hexOf(rng *rand.Rand, n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[rng.IntN(16)]
	}
	return string(b)
}

// nsWorld is one namespace being generated.
type nsWorld struct {
	ns     string
	latest []lineage.NodeRef // component → its latest artifact (Kind empty: none yet)
	built  int
}

// load writes every namespace's builds, snapshots and releases in batches.
func (g *traceGraph) load(ctx context.Context, idx lineage.Index, log io.Writer) error {
	var batch []lineage.Record
	flush := func() error {
		var err error
		if !g.o.Reuse {
			err = idx.Apply(ctx, batch...)
		}
		batch = batch[:0]
		return err
	}
	total := 0
	for n := range g.o.Namespaces {
		w := &nsWorld{ns: fmt.Sprintf("tenant-%02d", n), latest: make([]lineage.NodeRef, g.components)}
		for b := range g.perNS {
			batch = append(batch, g.buildRecords(w, g.next(b), b)...)
			if len(batch) >= 500 {
				if err := flush(); err != nil {
					return err
				}
			}
			if total++; total%20000 == 0 {
				fmt.Fprintf(log, "  %d builds\n", total)
			}
		}
	}
	return flush()
}

// buildRecords is one build of component c (its n-th in the namespace),
// with a snapshot and a release every tenth build.
func (g *traceGraph) buildRecords(w *nsWorld, c, n int) []lineage.Record {
	comp := fmt.Sprintf("comp-%04d", c)
	name := fmt.Sprintf("%s-%06d", comp, n)
	url := "https://git.bench/" + w.ns + "/" + comp + ".git"
	sha := hexOf(g.rng, 40)
	me := lineage.NodeRef{Kind: lineage.KindBuild, Namespace: w.ns, Key: name, Owned: true, Attrs: map[string]string{"component": comp}}
	src := lineage.NodeRef{Kind: lineage.KindSource, Namespace: w.ns, Key: url}
	commit := lineage.NodeRef{Kind: lineage.KindCommit, Namespace: w.ns, Key: url + "@" + sha, Alt: sha}
	digest := "sha256:" + hexOf(g.rng, 64)
	art := lineage.NodeRef{Kind: lineage.KindArtifact, Namespace: w.ns, Key: benchRegistry + "/" + w.ns + "/" + comp + "@" + digest, Alt: digest}
	edges := []lineage.EdgeRef{
		{From: src, To: commit, Kind: lineage.EdgeRevision}, {From: commit, To: me, Kind: lineage.EdgeSource},
		{From: g.digestNode(w.ns, lineage.KindPipeline, g.rng.IntN(20)), To: me, Kind: lineage.EdgePipeline},
		{From: g.digestNode(w.ns, lineage.KindImage, g.rng.IntN(50)), To: me, Kind: lineage.EdgeStepImage},
		{From: me, To: art, Kind: lineage.EdgeOutput},
	}
	for _, d := range g.deps[c] {
		if w.latest[d].Kind != "" {
			edges = append(edges, lineage.EdgeRef{From: w.latest[d], To: me, Kind: lineage.EdgeInput})
		}
	}
	prov := lineage.Evidence{Origin: lineage.OriginProvenance, Trust: lineage.TrustVerified, KeyID: "sha256:bench", Edges: []lineage.EdgeRef{edges[1], edges[4]}}
	sbom := lineage.Evidence{Origin: lineage.OriginSBOM, Trust: lineage.TrustVerified, KeyID: "sha256:bench", Edges: g.packages(w.ns, art, g.edgesPer)}
	w.latest[c] = art
	recs := []lineage.Record{{Key: lineage.RecordKey{Kind: "Build", Namespace: w.ns, Name: name}, Version: "bench",
		Evidence: []lineage.Evidence{{Origin: lineage.OriginRecord, Trust: lineage.TrustRecord, Edges: edges}, prov, sbom}}}
	g.remember(w, c, art, commit)
	if n%10 == 9 {
		recs = append(recs, g.release(w, c, name, art)...)
	}
	return recs
}

func (g *traceGraph) digestNode(ns string, kind lineage.NodeKind, i int) lineage.NodeRef {
	return lineage.NodeRef{Kind: kind, Namespace: ns, Key: fmt.Sprintf("sha256:%064x", i+1000*len(kind))}
}

// packages are n SBOM packages from a pool of 2,000 modules × 40 versions.
func (g *traceGraph) packages(ns string, art lineage.NodeRef, n int) []lineage.EdgeRef {
	out := make([]lineage.EdgeRef, 0, n)
	for range n {
		p := fmt.Sprintf("pkg:golang/example.com/mod%04d@v0.%d.0", g.rng.IntN(2000), g.rng.IntN(40))
		pkg, _ := trace.ParsePackage(p)
		if _, ok := g.purls[pkg.Base]; !ok && len(g.purls) < 20 {
			g.purls[pkg.Base] = pkg.Version
		}
		out = append(out, lineage.EdgeRef{Kind: lineage.EdgeContains, To: art,
			From: lineage.NodeRef{Kind: lineage.KindPackage, Namespace: ns, Key: pkg.Key, Alt: pkg.Base, Attrs: map[string]string{"version": pkg.Version}}})
	}
	return out
}

// release snapshots the build's artifact with its dependencies' latest,
// releases it and publishes the artifact.
func (g *traceGraph) release(w *nsWorld, c int, build string, art lineage.NodeRef) []lineage.Record {
	snap := lineage.NodeRef{Kind: lineage.KindSnapshot, Namespace: w.ns, Key: "snap-" + build, Owned: true}
	rel := lineage.NodeRef{Kind: lineage.KindRelease, Namespace: w.ns, Key: "rel-" + build, Owned: true}
	members := []lineage.EdgeRef{{From: art, To: snap, Kind: lineage.EdgeMember}}
	for _, d := range g.deps[c] {
		if w.latest[d].Kind != "" {
			members = append(members, lineage.EdgeRef{From: w.latest[d], To: snap, Kind: lineage.EdgeMember})
		}
	}
	dst := lineage.NodeRef{Kind: lineage.KindDestination, Namespace: w.ns + "-releases", Key: "prod.bench/" + strings.TrimPrefix(art.Key, benchRegistry+"/"), Alt: art.Alt}
	return []lineage.Record{
		{Key: lineage.RecordKey{Kind: "Snapshot", Namespace: w.ns, Name: snap.Key}, Version: "bench",
			Evidence: []lineage.Evidence{{Origin: lineage.OriginRecord, Trust: lineage.TrustRecord, Edges: members}}},
		{Key: lineage.RecordKey{Kind: "Release", Namespace: w.ns, Name: rel.Key}, Version: "bench",
			Evidence: []lineage.Evidence{{Origin: lineage.OriginRecord, Trust: lineage.TrustRecord, Edges: []lineage.EdgeRef{
				{From: snap, To: rel, Kind: lineage.EdgeReleased}, {From: art, To: dst, Kind: lineage.EdgePublished}}}}},
	}
}

// remember keeps candidate starting points: artifacts of the top layer
// built in the last tenth of a namespace's history (deep histories), and
// commits of the five most popular libraries (thousands of dependants).
func (g *traceGraph) remember(w *nsWorld, c int, art, commit lineage.NodeRef) {
	w.built++
	if g.layerOf(c) == g.layers-1 && w.built > g.perNS*9/10 {
		g.leafArtifacts = append(g.leafArtifacts, art.Key)
	}
	if c < 5 && w.built < g.perNS*9/10 {
		g.libCommits = append(g.libCommits, commit.Key)
	}
}

func (g *traceGraph) starts() []startKind {
	return []startKind{
		{name: "leaf artifact (deep history)", dir: lineage.Up, refs: g.leafArtifacts},
		{name: "popular library commit", dir: lineage.Down, refs: g.libCommits},
		{name: "purl range", dir: lineage.Down, refs: g.purlRanges()},
	}
}

// purlRanges are ranges over half the versions (20 of 40) of modules the
// SBOMs list, each including a version listed.
func (g *traceGraph) purlRanges() []string {
	var out []string
	for base, v := range g.purls {
		var minor int
		if _, err := fmt.Sscanf(v, "v0.%d.0", &minor); err != nil {
			continue
		}
		lo := min(minor, 20)
		out = append(out, fmt.Sprintf("%s@>=0.%d.0|<0.%d.0", base, lo, lo+20))
	}
	slices.Sort(out)
	return out
}
