// Package lineagetest is the conformance suite every lineage.Index backend
// passes:
//
//	func TestLineageConformance(t *testing.T) {
//		lineagetest.Run(t, func(t *testing.T) lineagetest.Opener {
//			path := filepath.Join(t.TempDir(), "kiln.db")
//			return func(t *testing.T) lineage.Index { /* open path, t.Cleanup(close) */ }
//		})
//	}
package lineagetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/kilnbuild/kiln/internal/lineage"
)

// Opener opens an Index over one database; calling it again opens another
// handle on the same database (as a second process would). The opener
// closes what it opens when the test ends.
type Opener func(t *testing.T) lineage.Index

// Factory creates a fresh, empty database and returns its Opener.
type Factory func(t *testing.T) Opener

// Run runs the whole suite.
func Run(t *testing.T, newDB Factory) {
	tests := map[string]func(*testing.T, Opener){
		"ApplyAndWalk":               testApplyAndWalk,
		"ApplyIsIdempotent":          testIdempotent,
		"ReplaceDropsOrphans":        testReplace,
		"OwnedNodesWin":              testOwned,
		"SameEdgeFromTwoSources":     testTwoSources,
		"DeleteRecords":              testDelete,
		"PurgeNamespace":             testPurge,
		"Reset":                      testReset,
		"FindByAltAndNamespace":      testFind,
		"EdgesOfManyNodes":           testManyNeighbors,
		"InvalidRecordsAreRefused":   testInvalid,
		"PersistsAcrossHandles":      testPersist,
		"ConcurrentWritersShareNode": testConcurrent,
	}
	names := make([]string, 0, len(tests))
	for n := range tests {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tests[name](t, newDB(t))
		})
	}
}

// Node references used by the tests.
func src(ns string) lineage.NodeRef {
	return lineage.NodeRef{Kind: lineage.KindSource, Namespace: ns, Key: "https://git.example/lib"}
}

func commit(ns, sha string) lineage.NodeRef {
	return lineage.NodeRef{Kind: lineage.KindCommit, Namespace: ns, Key: "https://git.example/lib@" + sha, Alt: sha}
}

func build(ns, name string) lineage.NodeRef {
	return lineage.NodeRef{Kind: lineage.KindBuild, Namespace: ns, Key: name, Owned: true, Attrs: map[string]string{"component": "lib"}}
}

func artifact(ns, digest string) lineage.NodeRef {
	return lineage.NodeRef{Kind: lineage.KindArtifact, Namespace: ns, Key: "reg.example/" + ns + "/lib@" + digest, Alt: digest}
}

func pkg(ns, version string) lineage.NodeRef {
	return lineage.NodeRef{Kind: lineage.KindPackage, Namespace: ns, Key: "pkg:golang/golang.org/x/net@" + version, Alt: "pkg:golang/golang.org/x/net"}
}

// buildRecord is a build of commit sha producing digest, with a verified
// provenance saying the same.
func buildRecord(ns, name, sha, digest string) lineage.Record {
	b, c, a := build(ns, name), commit(ns, sha), artifact(ns, digest)
	return lineage.Record{
		Key: lineage.RecordKey{Kind: "Build", Namespace: ns, Name: name}, Version: "1",
		Evidence: []lineage.Evidence{
			{Origin: lineage.OriginRecord, Trust: lineage.TrustRecord, Edges: []lineage.EdgeRef{
				{From: src(ns), To: c, Kind: lineage.EdgeRevision},
				{From: c, To: b, Kind: lineage.EdgeSource},
				{From: b, To: a, Kind: lineage.EdgeOutput},
			}},
			{Origin: lineage.OriginProvenance, Trust: lineage.TrustVerified, KeyID: "sha256:k", Detail: "att", Edges: []lineage.EdgeRef{
				{From: c, To: b, Kind: lineage.EdgeSource},
				{From: b, To: a, Kind: lineage.EdgeOutput},
			}},
			{Origin: lineage.OriginSBOM, Trust: lineage.TrustUnverified, Reason: "bad signature", Edges: []lineage.EdgeRef{
				{From: pkg(ns, "v0.1.0"), To: a, Kind: lineage.EdgeContains},
			}},
		},
	}
}

func apply(t *testing.T, x lineage.Index, recs ...lineage.Record) {
	t.Helper()
	if err := x.Apply(context.Background(), recs...); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

func find(t *testing.T, x lineage.Index, m lineage.Match) []lineage.Node {
	t.Helper()
	nodes, err := x.Find(context.Background(), m)
	if err != nil {
		t.Fatalf("Find(%+v): %v", m, err)
	}
	return nodes
}

func one(t *testing.T, x lineage.Index, r lineage.NodeRef) lineage.Node {
	t.Helper()
	nodes := find(t, x, lineage.Match{Kind: r.Kind, Key: r.Key, Namespace: r.Namespace})
	if len(nodes) != 1 {
		t.Fatalf("Find %s %s/%s: %d nodes, want 1", r.Kind, r.Namespace, r.Key, len(nodes))
	}
	return nodes[0]
}

func absent(t *testing.T, x lineage.Index, r lineage.NodeRef) {
	t.Helper()
	if nodes := find(t, x, lineage.Match{Kind: r.Kind, Key: r.Key, Namespace: r.Namespace}); len(nodes) != 0 {
		t.Fatalf("Find %s %s/%s: %v, want none", r.Kind, r.Namespace, r.Key, nodes)
	}
}

// hop is an edge and the node at its far end.
type hop struct {
	Edge lineage.Edge
	Node lineage.Node
}

// hops reads the edges of ids in direction d and the nodes at their far
// ends.
func hops(t *testing.T, x lineage.Index, d lineage.Direction, ids ...int64) []hop {
	t.Helper()
	edges, err := x.Edges(context.Background(), d, ids)
	if err != nil {
		t.Fatalf("Edges: %v", err)
	}
	far := make([]int64, 0, len(edges))
	for _, e := range edges {
		far = append(far, farEnd(e, d))
	}
	nodes, err := x.Nodes(context.Background(), far)
	if err != nil {
		t.Fatalf("Nodes: %v", err)
	}
	byID := map[int64]lineage.Node{}
	for _, n := range nodes {
		byID[n.ID] = n
	}
	out := make([]hop, 0, len(edges))
	for _, e := range edges {
		n, ok := byID[farEnd(e, d)]
		if !ok {
			t.Fatalf("edge %+v leads to node %d, which Nodes does not return", e, farEnd(e, d))
		}
		out = append(out, hop{Edge: e, Node: n})
	}
	return out
}

func farEnd(e lineage.Edge, d lineage.Direction) int64 {
	if d == lineage.Down {
		return e.To
	}
	return e.From
}

// edgeSet renders hops as "kind→far-node-key" strings, sorted, one per hop.
func edgeSet(h []hop) []string {
	out := make([]string, 0, len(h))
	for _, x := range h {
		out = append(out, fmt.Sprintf("%s %s %s", x.Edge.Kind, x.Node.Kind, x.Node.Key))
	}
	slices.Sort(out)
	return out
}

func stats(t *testing.T, x lineage.Index) lineage.Stats {
	t.Helper()
	st, err := x.Stats(context.Background())
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	return st
}

func testApplyAndWalk(t *testing.T, open Opener) {
	x := open(t)
	apply(t, x, buildRecord("a", "lib-1", "c1", "sha256:d1"))
	art := one(t, x, artifact("a", "sha256:d1"))
	if art.Alt != "sha256:d1" || art.Label != art.Key || art.Namespace != "a" {
		t.Fatalf("artifact node %+v", art)
	}
	up := hops(t, x, lineage.Up, art.ID)
	want := []string{"contains package pkg:golang/golang.org/x/net@v0.1.0", "output build lib-1", "output build lib-1"}
	if got := edgeSet(up); !slices.Equal(got, want) {
		t.Fatalf("up from the artifact: %v, want %v", got, want)
	}
	b := one(t, x, build("a", "lib-1"))
	if b.Attrs["component"] != "lib" {
		t.Fatalf("build attrs %v", b.Attrs)
	}
	if got := edgeSet(hops(t, x, lineage.Up, b.ID)); !slices.Equal(got, []string{"source commit https://git.example/lib@c1", "source commit https://git.example/lib@c1"}) {
		t.Fatalf("up from the build: %v", got)
	}
	down := hops(t, x, lineage.Down, one(t, x, src("a")).ID)
	if got := edgeSet(down); !slices.Equal(got, []string{"revision commit https://git.example/lib@c1"}) {
		t.Fatalf("down from the source: %v", got)
	}
	checkSources(t, x, up)
}

func checkSources(t *testing.T, x lineage.Index, up []hop) {
	t.Helper()
	var ids []int64
	for _, h := range up {
		ids = append(ids, h.Edge.Source)
	}
	srcs, err := x.Sources(context.Background(), ids)
	if err != nil {
		t.Fatalf("Sources: %v", err)
	}
	got := map[lineage.Origin]lineage.Source{}
	for _, s := range srcs {
		got[s.Origin] = s
	}
	rec := lineage.RecordKey{Kind: "Build", Namespace: "a", Name: "lib-1"}
	if s := got[lineage.OriginProvenance]; s.Trust != lineage.TrustVerified || s.KeyID != "sha256:k" || s.Detail != "att" || s.Record != rec {
		t.Fatalf("provenance source %+v", s)
	}
	if s := got[lineage.OriginSBOM]; s.Trust != lineage.TrustUnverified || s.Reason != "bad signature" {
		t.Fatalf("SBOM source %+v", s)
	}
	if s := got[lineage.OriginRecord]; s.Trust != lineage.TrustRecord || s.Record != rec {
		t.Fatalf("record source %+v", s)
	}
}

func testIdempotent(t *testing.T, open Opener) {
	x := open(t)
	r := buildRecord("a", "lib-1", "c1", "sha256:d1")
	apply(t, x, r)
	first := stats(t, x)
	apply(t, x, r)
	apply(t, x, r)
	if again := stats(t, x); again != first {
		t.Fatalf("stats after re-applying: %+v, first %+v", again, first)
	}
	if first.Nodes != 5 || first.Edges != 6 || first.Records != 1 || first.Sources != 3 {
		t.Fatalf("stats %+v, want 5 nodes, 6 edges, 1 record, 3 sources", first)
	}
	v, ok, err := x.RecordVersion(context.Background(), r.Key)
	if err != nil || !ok || v != "1" {
		t.Fatalf("RecordVersion = %q, %v, %v", v, ok, err)
	}
}

func testReplace(t *testing.T, open Opener) {
	x := open(t)
	apply(t, x, buildRecord("a", "lib-1", "c1", "sha256:d1"), buildRecord("a", "lib-2", "c2", "sha256:d2"))
	// lib-1 is rebuilt from c2 into d3: c1 and d1 are no longer named by anything.
	r := buildRecord("a", "lib-1", "c2", "sha256:d3")
	r.Version = "2"
	apply(t, x, r)
	absent(t, x, commit("a", "c1"))
	absent(t, x, artifact("a", "sha256:d1"))
	one(t, x, commit("a", "c2"))
	one(t, x, pkg("a", "v0.1.0")) // still listed by both builds
	if got := edgeSet(hops(t, x, lineage.Down, one(t, x, commit("a", "c2")).ID)); !slices.Equal(got, []string{
		"source build lib-1", "source build lib-1", "source build lib-2", "source build lib-2"}) {
		t.Fatalf("down from c2: %v", got)
	}
	if v, _, _ := x.RecordVersion(context.Background(), r.Key); v != "2" {
		t.Fatalf("version %q after replacing, want 2", v)
	}
}

func testOwned(t *testing.T, open Opener) {
	x := open(t)
	apply(t, x, buildRecord("a", "lib-1", "c1", "sha256:d1"))
	// Another record names the build without owning it: its label stays.
	other := build("a", "lib-1")
	other.Owned, other.Label, other.Attrs = false, "not the authority", nil
	apply(t, x, lineage.Record{Key: lineage.RecordKey{Kind: "Build", Namespace: "a", Name: "app-1"}, Evidence: []lineage.Evidence{
		{Origin: lineage.OriginRecord, Trust: lineage.TrustRecord, Edges: []lineage.EdgeRef{{From: other, To: build("a", "app-1"), Kind: lineage.EdgeCache}}},
	}})
	if b := one(t, x, build("a", "lib-1")); b.Label != "lib-1" || b.Attrs["component"] != "lib" {
		t.Fatalf("a reference that does not own the node changed it: %+v", b)
	}
	// The owner changes its attributes: they are replaced.
	r := buildRecord("a", "lib-1", "c1", "sha256:d1")
	for i := range r.Evidence {
		for j := range r.Evidence[i].Edges {
			for _, n := range []*lineage.NodeRef{&r.Evidence[i].Edges[j].From, &r.Evidence[i].Edges[j].To} {
				if n.Kind == lineage.KindBuild {
					n.Label, n.Attrs = "lib #1", map[string]string{"phase": "Succeeded"}
				}
			}
		}
	}
	apply(t, x, r)
	if b := one(t, x, build("a", "lib-1")); b.Label != "lib #1" || b.Attrs["phase"] != "Succeeded" || b.Attrs["component"] != "" {
		t.Fatalf("owner's update not applied: %+v", b)
	}
}

func testTwoSources(t *testing.T, open Opener) {
	x := open(t)
	snap := func(name string) lineage.Record {
		return lineage.Record{Key: lineage.RecordKey{Kind: "Snapshot", Namespace: "a", Name: name}, Evidence: []lineage.Evidence{
			{Origin: lineage.OriginRecord, Trust: lineage.TrustRecord, Edges: []lineage.EdgeRef{
				{From: artifact("a", "sha256:d1"), To: lineage.NodeRef{Kind: lineage.KindSnapshot, Namespace: "a", Key: "s", Owned: true}, Kind: lineage.EdgeMember}}},
		}}
	}
	apply(t, x, snap("one"), snap("two"))
	art := one(t, x, artifact("a", "sha256:d1"))
	if n := len(hops(t, x, lineage.Down, art.ID)); n != 2 {
		t.Fatalf("%d hops down, want the same edge from two sources", n)
	}
	if err := x.Delete(context.Background(), lineage.RecordKey{Kind: "Snapshot", Namespace: "a", Name: "one"}); err != nil {
		t.Fatal(err)
	}
	if got := edgeSet(hops(t, x, lineage.Down, art.ID)); !slices.Equal(got, []string{"member snapshot s"}) {
		t.Fatalf("after deleting one source: %v", got)
	}
}

func testDelete(t *testing.T, open Opener) {
	x := open(t)
	ctx := context.Background()
	apply(t, x, buildRecord("a", "lib-1", "c1", "sha256:d1"), buildRecord("a", "lib-2", "c1", "sha256:d2"))
	if err := x.Delete(ctx, lineage.RecordKey{Kind: "Build", Namespace: "a", Name: "lib-1"},
		lineage.RecordKey{Kind: "Build", Namespace: "a", Name: "never-indexed"}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	absent(t, x, build("a", "lib-1"))
	absent(t, x, artifact("a", "sha256:d1"))
	one(t, x, commit("a", "c1"))
	if _, ok, _ := x.RecordVersion(ctx, lineage.RecordKey{Kind: "Build", Namespace: "a", Name: "lib-1"}); ok {
		t.Fatal("deleted record still has a version")
	}
	recs, err := x.Records(ctx, "Build")
	if err != nil || len(recs) != 1 || recs[0].Name != "lib-2" {
		t.Fatalf("Records = %v, %v", recs, err)
	}
	if all, _ := x.Records(ctx, ""); len(all) != 1 {
		t.Fatalf("Records(all) = %v", all)
	}
}

func testPurge(t *testing.T, open Opener) {
	x := open(t)
	apply(t, x, buildRecord("a", "lib-1", "c1", "sha256:d1"), buildRecord("b", "lib-1", "c1", "sha256:d1"))
	// A snapshot of b names a's artifact: a cross-namespace edge.
	bsnap := lineage.NodeRef{Kind: lineage.KindSnapshot, Namespace: "b", Key: "s", Owned: true}
	apply(t, x, lineage.Record{Key: lineage.RecordKey{Kind: "Snapshot", Namespace: "b", Name: "s"}, Evidence: []lineage.Evidence{
		{Origin: lineage.OriginRecord, Trust: lineage.TrustRecord, Edges: []lineage.EdgeRef{{From: artifact("a", "sha256:d1"), To: bsnap, Kind: lineage.EdgeMember}}},
	}})
	if err := x.PurgeNamespace(context.Background(), "a"); err != nil {
		t.Fatalf("PurgeNamespace: %v", err)
	}
	if nodes := find(t, x, lineage.Match{Kind: lineage.KindArtifact, Alt: "sha256:d1"}); len(nodes) != 1 || nodes[0].Namespace != "b" {
		t.Fatalf("artifacts after purging a: %v", nodes)
	}
	absent(t, x, bsnap) // its only edge led into a
	one(t, x, build("b", "lib-1"))
	if recs, _ := x.Records(context.Background(), ""); len(recs) != 2 || recs[0].Namespace != "b" || recs[1].Namespace != "b" {
		t.Fatalf("records after purging a: %v, want b's two", recs)
	}
}

func testReset(t *testing.T, open Opener) {
	x := open(t)
	apply(t, x, buildRecord("a", "lib-1", "c1", "sha256:d1"))
	if err := x.Reset(context.Background()); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	if st := stats(t, x); st != (lineage.Stats{}) {
		t.Fatalf("stats after Reset: %+v", st)
	}
}

func testFind(t *testing.T, open Opener) {
	x := open(t)
	apply(t, x, buildRecord("b", "lib-1", "c1", "sha256:d1"), buildRecord("a", "lib-1", "c1", "sha256:d1"))
	all := find(t, x, lineage.Match{Kind: lineage.KindCommit, Alt: "c1"})
	if len(all) != 2 || all[0].Namespace != "a" || all[1].Namespace != "b" {
		t.Fatalf("commits c1: %v, want a's then b's", all)
	}
	if got := find(t, x, lineage.Match{Kind: lineage.KindCommit, Alt: "c1", Namespace: "b"}); len(got) != 1 || got[0].Namespace != "b" {
		t.Fatalf("commits c1 in b: %v", got)
	}
	if got := find(t, x, lineage.Match{Kind: lineage.KindPackage, Alt: "pkg:golang/golang.org/x/net", Limit: 1}); len(got) != 1 {
		t.Fatalf("limited find: %v", got)
	}
	if got := find(t, x, lineage.Match{Kind: lineage.KindArtifact, Alt: "sha256:nope"}); len(got) != 0 {
		t.Fatalf("unknown digest: %v", got)
	}
	if _, err := x.Find(context.Background(), lineage.Match{Kind: lineage.KindCommit}); !errors.Is(err, lineage.ErrInvalid) {
		t.Fatalf("Find without key or alt: %v, want ErrInvalid", err)
	}
}

func testManyNeighbors(t *testing.T, open Opener) {
	x := open(t)
	lib := artifact("a", "sha256:lib")
	ev := lineage.Evidence{Origin: lineage.OriginRecord, Trust: lineage.TrustRecord}
	const n = 1300 // more than one statement's worth of values
	for i := range n {
		ev.Edges = append(ev.Edges, lineage.EdgeRef{From: lib, To: build("a", fmt.Sprintf("app-%04d", i)), Kind: lineage.EdgeInput})
	}
	apply(t, x, lineage.Record{Key: lineage.RecordKey{Kind: "Bench", Namespace: "a", Name: "fan"}, Evidence: []lineage.Evidence{ev}})
	down := hops(t, x, lineage.Down, one(t, x, lib).ID)
	if len(down) != n {
		t.Fatalf("%d dependants, want %d", len(down), n)
	}
	ids := make([]int64, 0, n)
	for _, h := range down {
		ids = append(ids, h.Node.ID)
	}
	if up := hops(t, x, lineage.Up, ids...); len(up) != n {
		t.Fatalf("%d hops up from %d builds, want %d", len(up), n, n)
	}
}

func testInvalid(t *testing.T, open Opener) {
	x := open(t)
	for name, r := range map[string]lineage.Record{
		"no key":       {Evidence: nil},
		"node no key":  {Key: lineage.RecordKey{Kind: "Build", Name: "x"}, Evidence: []lineage.Evidence{{Edges: []lineage.EdgeRef{{From: lineage.NodeRef{Kind: lineage.KindSource}, To: build("a", "x"), Kind: lineage.EdgeSource}}}}},
		"edge no kind": {Key: lineage.RecordKey{Kind: "Build", Name: "x"}, Evidence: []lineage.Evidence{{Edges: []lineage.EdgeRef{{From: src("a"), To: build("a", "x")}}}}},
	} {
		if err := x.Apply(context.Background(), r); !errors.Is(err, lineage.ErrInvalid) {
			t.Errorf("%s: Apply = %v, want ErrInvalid", name, err)
		}
	}
	if st := stats(t, x); st != (lineage.Stats{}) {
		t.Fatalf("a refused record left %+v", st)
	}
}

func testPersist(t *testing.T, open Opener) {
	apply(t, open(t), buildRecord("a", "lib-1", "c1", "sha256:d1"))
	other := open(t)
	art := one(t, other, artifact("a", "sha256:d1"))
	if got := edgeSet(hops(t, other, lineage.Up, art.ID)); len(got) != 3 {
		t.Fatalf("another handle sees %v", got)
	}
}

func testConcurrent(t *testing.T, open Opener) {
	x, y := open(t), open(t)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 20 {
		for _, idx := range []lineage.Index{x, y} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Every build names the same commit, source and package.
				errs <- idx.Apply(context.Background(), buildRecord("a", fmt.Sprintf("lib-%d-%p", i, idx), "c1", fmt.Sprintf("sha256:%d%p", i, idx)))
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Apply: %v", err)
		}
	}
	if got := hops(t, x, lineage.Down, one(t, x, commit("a", "c1")).ID); len(got) != 80 {
		t.Fatalf("%d hops down from the shared commit, want 80 (40 builds × 2 sources)", len(got))
	}
}
