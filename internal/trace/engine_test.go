package trace

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/internal/lineage"
	"github.com/kilnbuild/kiln/internal/store"
	"github.com/kilnbuild/kiln/internal/store/sqlstore"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// openIndex is a real SQLite trace index in a temp dir.
func openIndex(t *testing.T) lineage.Index {
	t.Helper()
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "kiln.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	x, err := IndexOf(st)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

const (
	libSHA = "1111111111111111111111111111111111111111"
	appSHA = "2222222222222222222222222222222222222222"
	badSHA = "6666666666666666666666666666666666666666"
)

func dg(c string) string { return "sha256:" + strings.Repeat(c, 64) }

func node(kind lineage.NodeKind, ns, key string) lineage.NodeRef {
	return lineage.NodeRef{Kind: kind, Namespace: ns, Key: key}
}

func commitNode(ns, url, sha string) lineage.NodeRef {
	return lineage.NodeRef{Kind: lineage.KindCommit, Namespace: ns, Key: url + "@" + sha, Alt: sha}
}

func artifactNode(ns, repo, digest string) lineage.NodeRef {
	return lineage.NodeRef{Kind: lineage.KindArtifact, Namespace: ns, Key: repo + "@" + digest, Alt: digest}
}

func pkgNode(ns, purl string) lineage.NodeRef {
	p, _ := ParsePackage(purl)
	return lineage.NodeRef{Kind: lineage.KindPackage, Namespace: ns, Key: p.Key, Alt: p.Base, Attrs: map[string]string{"version": p.Version}}
}

func edge(from, to lineage.NodeRef, kind lineage.EdgeKind) lineage.EdgeRef {
	return lineage.EdgeRef{From: from, To: to, Kind: kind}
}

func recordEv(edges ...lineage.EdgeRef) lineage.Evidence {
	return lineage.Evidence{Origin: lineage.OriginRecord, Trust: lineage.TrustRecord, Edges: edges}
}

func verified(origin lineage.Origin, edges ...lineage.EdgeRef) lineage.Evidence {
	return lineage.Evidence{Origin: origin, Trust: lineage.TrustVerified, KeyID: "sha256:builderkey", Detail: "att", Edges: edges}
}

// fixture is a library and an app built against it in namespace team,
// released (snapshot → release → destinations in team-releases); the
// app's provenance was tampered with to name another commit; a snapshot of
// namespace other includes the library.
func fixture(t *testing.T) lineage.Index {
	x := openIndex(t)
	libSrc, appSrc := node(lineage.KindSource, "team", "https://git.example/libfoo"), node(lineage.KindSource, "team", "https://git.example/app")
	libC, appC, badC := commitNode("team", libSrc.Key, libSHA), commitNode("team", appSrc.Key, appSHA), commitNode("team", appSrc.Key, badSHA)
	libB, appB := node(lineage.KindBuild, "team", "libfoo-1"), node(lineage.KindBuild, "team", "app-1")
	libA, appA := artifactNode("team", "reg.example/team/libfoo", dg("a")), artifactNode("team", "reg.example/team/app", dg("b"))
	img, pipe := node(lineage.KindImage, "team", dg("c")), node(lineage.KindPipeline, "team", dg("d"))
	oldNet, newNet := pkgNode("team", "pkg:golang/golang.org/x/net@v0.1.0"), pkgNode("team", "pkg:golang/golang.org/x/net@v0.30.0")
	snap, rel := node(lineage.KindSnapshot, "team", "snap-1"), node(lineage.KindRelease, "team", "rel-1")
	dstApp := lineage.NodeRef{Kind: lineage.KindDestination, Namespace: "team-releases", Key: "prod.example/app@" + dg("b"), Alt: dg("b"), Label: "prod.example/app@" + dg("b")[:19]}
	dstLib := node(lineage.KindDestination, "team-releases", "static:team-releases/greet/libfoo")
	other := node(lineage.KindSnapshot, "other", "theirs")
	recs := []lineage.Record{
		{Key: lineage.RecordKey{Kind: "Build", Namespace: "team", Name: "libfoo-1"}, Evidence: []lineage.Evidence{
			recordEv(edge(libSrc, libC, lineage.EdgeRevision), edge(libC, libB, lineage.EdgeSource), edge(libB, libA, lineage.EdgeOutput)),
			verified(lineage.OriginProvenance, edge(libC, libB, lineage.EdgeSource), edge(libB, libA, lineage.EdgeOutput)),
		}},
		{Key: lineage.RecordKey{Kind: "Build", Namespace: "team", Name: "app-1"}, Evidence: []lineage.Evidence{
			recordEv(edge(appSrc, appC, lineage.EdgeRevision), edge(appC, appB, lineage.EdgeSource), edge(libA, appB, lineage.EdgeInput),
				edge(img, appB, lineage.EdgeStepImage), edge(pipe, appB, lineage.EdgePipeline), edge(appB, appA, lineage.EdgeOutput)),
			{Origin: lineage.OriginProvenance, Trust: lineage.TrustUnverified, Reason: "attestation signature invalid", Detail: "att",
				Edges: []lineage.EdgeRef{edge(appSrc, badC, lineage.EdgeRevision), edge(badC, appB, lineage.EdgeSource), edge(libA, appB, lineage.EdgeInput)}},
			verified(lineage.OriginSBOM, edge(oldNet, appA, lineage.EdgeContains), edge(newNet, appA, lineage.EdgeContains)),
		}},
		{Key: lineage.RecordKey{Kind: "Snapshot", Namespace: "team", Name: "snap-1"}, Evidence: []lineage.Evidence{
			recordEv(edge(libA, snap, lineage.EdgeMember), edge(appA, snap, lineage.EdgeMember))}},
		{Key: lineage.RecordKey{Kind: "Release", Namespace: "team", Name: "rel-1"}, Evidence: []lineage.Evidence{
			recordEv(edge(snap, rel, lineage.EdgeReleased), edge(appA, dstApp, lineage.EdgePublished), edge(libA, dstLib, lineage.EdgePublished))}},
		{Key: lineage.RecordKey{Kind: "Snapshot", Namespace: "other", Name: "theirs"}, Evidence: []lineage.Evidence{
			recordEv(edge(libA, other, lineage.EdgeMember))}},
	}
	if err := x.Apply(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
	return x
}

func run(t *testing.T, x lineage.Index, d lineage.Direction, ref string, mod func(*Query)) *Result {
	t.Helper()
	r, err := ParseRef(ref, "team")
	if err != nil {
		t.Fatalf("ParseRef(%q): %v", ref, err)
	}
	q := Query{Direction: d, Ref: r}
	if mod != nil {
		mod(&q)
	}
	res, err := (&Engine{Index: x}).Trace(context.Background(), q)
	if err != nil {
		t.Fatalf("trace %q: %v", ref, err)
	}
	return res
}

func keys(r *Result, kind lineage.NodeKind) []string {
	var out []string
	for _, n := range r.Nodes {
		if n.Kind == kind {
			out = append(out, n.Key)
		}
	}
	slices.Sort(out)
	return out
}

func readable(namespaces ...string) func(*Query) {
	return func(q *Query) { q.Readable = func(ns string) bool { return slices.Contains(namespaces, ns) } }
}

func TestUpFromReleaseReachesLibraryCommit(t *testing.T) {
	t.Parallel()
	res := run(t, fixture(t), lineage.Up, "release/rel-1", nil)
	if got := keys(res, lineage.KindCommit); !slices.Contains(got, "https://git.example/libfoo@"+libSHA) {
		t.Fatalf("commits reached: %v", got)
	}
	if got := keys(res, lineage.KindSource); !slices.Equal(got, []string{"https://git.example/app", "https://git.example/libfoo"}) {
		t.Fatalf("sources reached: %v", got)
	}
	if len(keys(res, lineage.KindDestination)) != 0 {
		t.Fatal("a walk up reached a destination")
	}
	if res.Cut != 0 || res.Truncated {
		t.Fatalf("cut %d truncated %v", res.Cut, res.Truncated)
	}
}

func TestDownFromLibraryCommitReachesReleaseAndDestinations(t *testing.T) {
	t.Parallel()
	res := run(t, fixture(t), lineage.Down, "https://git.example/libfoo@"+libSHA, nil)
	if got := keys(res, lineage.KindRelease); !slices.Equal(got, []string{"rel-1"}) {
		t.Fatalf("releases: %v", got)
	}
	if got := keys(res, lineage.KindDestination); len(got) != 2 {
		t.Fatalf("destinations: %v", got)
	}
	if got := keys(res, lineage.KindSnapshot); !slices.Equal(got, []string{"snap-1", "theirs"}) {
		t.Fatalf("an admin sees every snapshot: %v", got)
	}
}

func TestCutAtUnreadableNamespaces(t *testing.T) {
	t.Parallel()
	x := fixture(t)
	res := run(t, x, lineage.Down, "https://git.example/libfoo@"+libSHA, readable("team"))
	if res.Cut != 3 { // other's snapshot and the two destinations
		t.Fatalf("cut = %d, want 3", res.Cut)
	}
	cutAt := map[string]int{}
	for _, n := range res.Nodes {
		if n.Namespace != "team" {
			t.Fatalf("node of %s shown to a reader of team only: %+v", n.Namespace, n)
		}
		if n.Cut > 0 {
			cutAt[n.Key] = n.Cut
		}
	}
	want := map[string]int{"reg.example/team/libfoo@sha256:" + strings.Repeat("a", 64): 2, // their snapshot, a destination
		"reg.example/team/app@sha256:" + strings.Repeat("b", 64): 1} // a destination
	if !maps.Equal(cutAt, want) {
		t.Fatalf("cut at %v, want %v", cutAt, want)
	}
	var out bytes.Buffer
	if err := Write(&out, res, "tree"); err != nil || !strings.Contains(out.String(), "cut: 3 nodes in namespaces you cannot read") ||
		!strings.Contains(out.String(), "libfoo@sha256:"+strings.Repeat("a", 64)+"  [team]  (cut here: 2 nodes in namespaces you cannot read)\n") {
		t.Fatalf("tree: %v\n%s", err, out.String())
	}
	// Everything the reference selects is unreadable: nothing, and the cut.
	res = run(t, x, lineage.Up, "snapshot/theirs", func(q *Query) {
		q.Ref = Ref{Text: "x", What: "snapshot", Matches: []lineage.Match{{Kind: lineage.KindSnapshot, Key: "theirs"}}}
		readable("team")(q)
	})
	if len(res.Nodes) != 0 || res.Cut != 1 {
		t.Fatalf("unreadable start: %d nodes, cut %d", len(res.Nodes), res.Cut)
	}
}

func TestPurlRangeQuestions(t *testing.T) {
	t.Parallel()
	x := fixture(t)
	res := run(t, x, lineage.Down, "pkg:golang/golang.org/x/net@<0.23.0", nil)
	if got := keys(res, lineage.KindPackage); !slices.Equal(got, []string{"pkg:golang/golang.org/x/net@v0.1.0"}) {
		t.Fatalf("packages selected by <0.23.0: %v", got)
	}
	if got := keys(res, lineage.KindDestination); !slices.Equal(got, []string{"prod.example/app@" + dg("b")}) {
		t.Fatalf("where x/net <0.23.0 ships: %v", got)
	}
	if got := keys(res, lineage.KindRelease); !slices.Equal(got, []string{"rel-1"}) {
		t.Fatalf("releases with x/net <0.23.0: %v", got)
	}
	if _, err := (&Engine{Index: x}).Trace(context.Background(), Query{Direction: lineage.Down, Ref: mustRef(t, "pkg:golang/golang.org/x/net@>=1.0.0")}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a range no version matches: %v, want ErrNotFound", err)
	}
}

func mustRef(t *testing.T, s string) Ref {
	t.Helper()
	r, err := ParseRef(s, "team")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestUnverifiedEdgesAreShownAsSuch(t *testing.T) {
	t.Parallel()
	res := run(t, fixture(t), lineage.Up, "build/app-1", nil)
	var tampered, input *ResultEdge
	byID := map[string]ResultNode{}
	for _, n := range res.Nodes {
		byID[n.ID] = n
	}
	for i, e := range res.Edges {
		switch {
		case byID[e.From].Key == "https://git.example/app@"+badSHA:
			tampered = &res.Edges[i]
		case e.Kind == lineage.EdgeInput:
			input = &res.Edges[i]
		}
	}
	if tampered == nil || tampered.Trust != lineage.TrustUnverified || tampered.Sources[0].Reason != "attestation signature invalid" {
		t.Fatalf("the tampered provenance's edge: %+v", tampered)
	}
	if input == nil || input.Trust != lineage.TrustRecord || len(input.Sources) != 2 || input.Sources[1].Trust != lineage.TrustUnverified {
		t.Fatalf("an edge Kiln recorded and a bad attestation also claims: %+v", input)
	}
	var out bytes.Buffer
	_ = Write(&out, res, "tree")
	if !strings.Contains(out.String(), "source (UNVERIFIED provenance: attestation signature invalid) commit https://git.example/app@"+badSHA) ||
		!strings.Contains(out.String(), "input (kiln-record; also UNVERIFIED provenance: attestation signature invalid)") {
		t.Fatalf("tree does not spell out unverified edges:\n%s", out.String())
	}
}

func TestLimitAndDepth(t *testing.T) {
	t.Parallel()
	x := fixture(t)
	res := run(t, x, lineage.Up, "release/rel-1", func(q *Query) { q.Limit = 3 })
	if len(res.Nodes) != 3 || !res.Truncated {
		t.Fatalf("limit 3: %d nodes, truncated %v", len(res.Nodes), res.Truncated)
	}
	for _, e := range res.Edges {
		if e.From == "" || e.To == "" {
			t.Fatalf("an edge leads out of the truncated trace: %+v", e)
		}
	}
	res = run(t, x, lineage.Up, "release/rel-1", func(q *Query) { q.Depth = 2 })
	for _, n := range res.Nodes {
		if n.Depth > 2 {
			t.Fatalf("depth 2 reached %+v", n)
		}
	}
	if got := keys(res, lineage.KindArtifact); len(got) != 2 {
		t.Fatalf("depth 2 from a release: artifacts %v", got)
	}
	if _, err := (&Engine{Index: x}).Trace(context.Background(), Query{Ref: mustRef(t, "build/app-1"), Limit: MaxLimit + 1}); err == nil {
		t.Fatal("a limit above the maximum was accepted")
	}
}

func TestUnknownRef(t *testing.T) {
	t.Parallel()
	_, err := (&Engine{Index: fixture(t)}).Trace(context.Background(), Query{Ref: mustRef(t, "build/nope")})
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "no build team/nope is indexed") {
		t.Fatalf("unknown build: %v", err)
	}
}

// TestGolden checks the JSON, dot, tree and table renderings.
func TestGolden(t *testing.T) {
	t.Parallel()
	x := fixture(t)
	cases := []struct {
		file, ref string
		d         lineage.Direction
		mod       func(*Query)
	}{
		{"up-app.json", "build/app-1", lineage.Up, nil},
		{"up-app.dot", "build/app-1", lineage.Up, nil},
		{"up-app.tree", "build/app-1", lineage.Up, nil},
		{"down-lib-commit.json", "https://git.example/libfoo@" + libSHA, lineage.Down, readable("team")},
		{"down-lib-commit.dot", "https://git.example/libfoo@" + libSHA, lineage.Down, readable("team")},
		{"down-lib-commit.table", "https://git.example/libfoo@" + libSHA, lineage.Down, readable("team")},
	}
	for _, c := range cases {
		res := run(t, x, c.d, c.ref, c.mod)
		var out bytes.Buffer
		if err := Write(&out, res, strings.TrimPrefix(filepath.Ext(c.file), ".")); err != nil {
			t.Fatal(err)
		}
		golden(t, c.file, out.Bytes())
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGolden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestWriteUnknownFormat(t *testing.T) {
	t.Parallel()
	if err := Write(&bytes.Buffer{}, &Result{}, "yaml"); err == nil || !strings.Contains(err.Error(), "tree, table, json, dot") {
		t.Fatalf("Write(yaml) = %v", err)
	}
}
