package server

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/internal/attest"
	"github.com/kilnbuild/kiln/internal/lineage"
	"github.com/kilnbuild/kiln/internal/trace"
)

func snapshotOf(name, image string) map[string]any {
	return map[string]any{"metadata": map[string]any{"name": name}, "spec": map[string]any{"application": "greet",
		"components": []any{map[string]any{"name": "lib", "containerImage": image}}}}
}

func traceAs(t *testing.T, a api, dir, ref, ns string) (int, *trace.Result) {
	t.Helper()
	q := url.Values{"ref": {ref}}
	if ns != "" {
		q.Set("namespace", ns)
	}
	r := a.do("GET", apiTrace+"/"+dir+"?"+q.Encode(), nil)
	var res trace.Result
	if r.Code == 200 {
		if err := json.Unmarshal(r.Body, &res); err != nil {
			t.Fatal(err)
		}
	}
	return r.Code, &res
}

// waitTrace polls a trace until want holds.
func waitTrace(t *testing.T, a api, dir, ref, ns string, want func(*trace.Result) bool) *trace.Result {
	t.Helper()
	var res *trace.Result
	eventually(t, "trace "+dir+" "+ref, func() bool {
		code, r := traceAs(t, a, dir, ref, ns)
		res = r
		return code == 200 && want(r)
	})
	return res
}

// TestTraceTenancy: a tenant's trace shows only its own namespaces and
// says how much it cut; names in other namespaces are forbidden, as are
// imports there and reindexing; deleting a namespace purges its part.
func TestTraceTenancy(t *testing.T) {
	t.Parallel()
	f, admin, alice, bob := tenants(t)
	digest := "sha256:" + strings.Repeat("a", 64)
	image := "reg.example/team-a/lib@" + digest
	alice.must(201, "POST", nsPath("team-a", "applications"), app("greet"))
	alice.must(201, "POST", nsPath("team-a", "snapshots"), snapshotOf("mine", image))
	bob.must(201, "POST", nsPath("team-b", "snapshots"), snapshotOf("theirs", image)) // bob names alice's image
	all := waitTrace(t, admin, "down", digest, "", func(r *trace.Result) bool { return len(r.Roots) == 2 })
	if all.Cut != 0 {
		t.Fatalf("an admin's trace was cut: %+v", all)
	}
	res := waitTrace(t, alice, "down", digest, "", func(r *trace.Result) bool { return len(r.Roots) == 1 })
	for _, n := range res.Nodes {
		if n.Namespace != "team-a" {
			t.Fatalf("alice sees %+v", n)
		}
	}
	if res.Cut != 1 || !hasKind(res, lineage.KindSnapshot, "mine") || hasKind(res, lineage.KindSnapshot, "theirs") {
		t.Fatalf("alice's trace: %+v", res)
	}
	if code, _ := traceAs(t, alice, "up", "snapshot/theirs", "team-b"); code != 403 {
		t.Fatalf("alice traced bob's snapshot by name: %d", code)
	}
	if code, _ := traceAs(t, alice, "up", "snapshot/nonexistent", "team-b"); code != 403 {
		t.Fatalf("alice learned whether a name exists in team-b: %d", code)
	}
	imp := trace.ImportRequest{Namespace: "team-b", Artifact: image, Attestations: []attest.Envelope{{PredicateType: "x", DSSE: []byte(`{}`)}}}
	alice.must(403, "POST", apiTrace+"/imports", imp)
	alice.must(403, "POST", apiTrace+"/reindex", nil)
	alice.must(405, "POST", apiTrace+"/up", nil)
	alice.must(404, "GET", apiTrace+"/sideways", nil)
	imp.Namespace = "team-a"
	if r := alice.must(400, "POST", apiTrace+"/imports", imp); !strings.Contains(string(r.Body), "SLSA provenance") {
		t.Fatalf("an import without a readable statement: %s", r.Body)
	}
	bob.must(200, "DELETE", "/api/v1/namespaces/team-b", nil)
	waitTrace(t, admin, "down", digest, "", func(r *trace.Result) bool { return len(r.Roots) == 1 && r.Roots[0] != "" })
	idx, _ := trace.IndexOf(f.Store)
	eventually(t, "team-b purged from the index", func() bool {
		recs, err := idx.Records(context.Background(), "")
		return err == nil && len(recs) == 1 && recs[0].Namespace == "team-a"
	})
}

func hasKind(r *trace.Result, kind lineage.NodeKind, key string) bool {
	return findNode(r, kind, key) != nil
}

// TestTraceIndexSurvivesRestart: what was indexed is there after a
// restart, not duplicated, and what changed while Kiln was down is
// indexed when it starts.
func TestTraceIndexSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := testFactory(t, dir)
	a := api{t: t, base: f.URL, token: f.AdminToken, hc: f.HTTPClient()}
	a.must(201, "POST", nsPath("default", "applications"), app("greet"))
	d1, d2 := "sha256:"+strings.Repeat("1", 64), "sha256:"+strings.Repeat("2", 64)
	a.must(201, "POST", nsPath("default", "snapshots"), snapshotOf("one", "reg.example/default/lib@"+d1))
	waitTrace(t, a, "up", "snapshot/one", "default", func(r *trace.Result) bool { return len(r.Nodes) == 2 })
	idx, _ := trace.IndexOf(f.Store)
	before, err := idx.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Stop(); err != nil {
		t.Fatal(err)
	}
	// On start the indexer lists every snapshot: one is current (skipped),
	// two is new.
	f2 := testFactory(t, dir)
	a2 := api{t: t, base: f2.URL, token: f2.AdminToken, hc: f2.HTTPClient()}
	a2.must(201, "POST", nsPath("default", "snapshots"), snapshotOf("two", "reg.example/default/lib@"+d2))
	waitTrace(t, a2, "up", "snapshot/two", "default", func(r *trace.Result) bool { return len(r.Nodes) == 2 })
	if _, r := traceAs(t, a2, "up", "snapshot/one", "default"); len(r.Nodes) != 2 {
		t.Fatalf("after a restart, snapshot one traces to %+v", r.Nodes)
	}
	idx2, _ := trace.IndexOf(f2.Store)
	after, _ := idx2.Stats(context.Background())
	if after.Records != before.Records+1 || after.Edges != before.Edges+1 {
		t.Fatalf("index before restart %+v, after one more snapshot %+v", before, after)
	}
}
