package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/kilnbuild/kiln/internal/store"
)

func testListOrder(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	for _, k := range []string{"b/x", "a/z", "/c", "a/a", "b/a"} {
		ns, name, _ := cutSlash(k)
		mustCreate(t, s, obj("Thing", ns, name))
	}
	mustCreate(t, s, obj("Other", "a", "b"))
	res, err := s.List(ctx, store.ListOptions{Filter: store.Filter{Kind: "Thing"}})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	want := []string{"/c", "a/a", "a/z", "b/a", "b/x"}
	if got := names(res.Items); !slices.Equal(got, want) {
		t.Fatalf("List order %v, want %v", got, want)
	}
	if res.Continue != "" {
		t.Fatalf("unlimited List returned continue %q", res.Continue)
	}
	if rv := mustRV(t, s); res.ResourceVersion != rv {
		t.Fatalf("List version %d, CurrentRV %d", res.ResourceVersion, rv)
	}
	empty, err := s.List(ctx, store.ListOptions{Filter: store.Filter{Kind: "None"}})
	if err != nil || len(empty.Items) != 0 || empty.ResourceVersion != res.ResourceVersion {
		t.Fatalf("List of an empty kind: %+v, %v", empty, err)
	}
}

func cutSlash(s string) (string, string, bool) {
	for i := range len(s) {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return "", s, false
}

func testPagination(t *testing.T, s store.Store) {
	var objs []*store.Object
	for i := range 25 {
		objs = append(objs, obj("Build", fmt.Sprintf("ns%d", i%3), fmt.Sprintf("b%02d", i)))
	}
	seed(t, s, objs)
	full := names(listAll(t, s, store.Filter{Kind: "Build"}, 0))
	if len(full) != 25 {
		t.Fatalf("unpaginated List has %d items, want 25", len(full))
	}
	for _, limit := range []int{1, 4, 24, 25, 26} {
		if got := names(listAll(t, s, store.Filter{Kind: "Build"}, limit)); !slices.Equal(got, full) {
			t.Fatalf("pages of %d = %v, want %v", limit, got, full)
		}
	}
	res, err := s.List(ctxT(t), store.ListOptions{Filter: store.Filter{Kind: "Build"}, Limit: 25})
	if err != nil || res.Continue != "" {
		t.Fatalf("exact-size page: continue %q, err %v; want no continue", res.Continue, err)
	}
}

// testPaginationConcurrent pages through a list while objects are inserted
// before and after the cursor: every object that existed at the start must
// be returned exactly once.
func testPaginationConcurrent(t *testing.T, s store.Store) {
	var objs []*store.Object
	for i := range 200 {
		objs = append(objs, obj("Build", "ns", fmt.Sprintf("b%03d", i*2+1)))
	}
	seed(t, s, objs)
	var stop atomic.Bool
	ctx := ctxT(t)
	wait := goWriters(t, 1, func(int) error {
		for i := 0; !stop.Load(); i++ {
			name := fmt.Sprintf("b%03d", (i*37%200)*2) // even names interleave the odd ones
			if _, err := s.Create(ctx, obj("Build", "ns", name)); err != nil && !errors.Is(err, store.ErrAlreadyExists) {
				return err
			}
		}
		return nil
	})
	got := names(listAll(t, s, store.Filter{Kind: "Build"}, 7))
	stop.Store(true)
	wait()
	seen := map[string]int{}
	for _, n := range got {
		seen[n]++
	}
	for _, o := range objs {
		if seen["ns/"+o.Name] != 1 {
			t.Fatalf("%s returned %d times during concurrent inserts", o.Name, seen["ns/"+o.Name])
		}
	}
	if !slices.IsSorted(got) {
		t.Fatalf("pages out of order: %v", got)
	}
}

// selectorFixture creates pods with labels/fields/owners for selector tests.
func selectorFixture(t *testing.T, s store.Store) {
	specs := []struct {
		ns, name string
		labels   []string
		fields   map[string]string
		owners   []string
	}{
		{"a", "p1", []string{"app=web", "tier=front"}, map[string]string{"spec.node": "n1"}, []string{"rs1"}},
		{"a", "p2", []string{"app=web", "tier=back"}, map[string]string{"spec.node": "n2"}, []string{"rs1"}},
		{"a", "p3", []string{"app=db"}, map[string]string{"spec.node": "n1"}, []string{"rs2"}},
		{"b", "p1", []string{"app=web"}, nil, []string{"rs1", "rs3"}},
		{"b", "p4", nil, map[string]string{"spec.node": "n3"}, nil},
		{"c", "p5", []string{"tier=front", "env=prod"}, map[string]string{"spec.node": ""}, nil},
	}
	var objs []*store.Object
	for _, sp := range specs {
		o := obj("Pod", sp.ns, sp.name, sp.labels...)
		o.Fields, o.OwnerUIDs = sp.fields, sp.owners
		objs = append(objs, o)
	}
	objs = append(objs, obj("Service", "a", "p1", "app=web"))
	seed(t, s, objs)
}

// checkSelect lists and counts f, comparing with want (ns/name).
func checkSelect(t *testing.T, s store.Store, what string, f store.Filter, want []string) {
	t.Helper()
	for _, limit := range []int{0, 1, 2} {
		full := listAll(t, s, f, limit)
		got := names(full)
		if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Fatalf("%s (limit %d): got %v, want %v", what, limit, got, want)
		}
		// DataOnly may skip decoding labels, fields and owners, but never
		// at the cost of which objects match.
		dataOnly := listAllOpts(t, s, store.ListOptions{Filter: f, Limit: limit, DataOnly: true})
		if got := names(dataOnly); !slices.Equal(got, names(full)) {
			t.Fatalf("%s (limit %d, DataOnly): got %v, want %v", what, limit, got, want)
		}
		for i, o := range dataOnly {
			if !bytes.Equal(o.Data, full[i].Data) || o.ResourceVersion != full[i].ResourceVersion || o.UID != full[i].UID {
				t.Fatalf("%s (DataOnly): item %s differs from the full list's", what, o.Key())
			}
		}
	}
	n, err := s.Count(ctxT(t), f)
	if err != nil || n != len(want) {
		t.Fatalf("%s: Count = %d, %v; want %d", what, n, err, len(want))
	}
}

func testLabelSelectors(t *testing.T, s store.Store) {
	selectorFixture(t, s)
	pods := func(reqs ...store.Requirement) store.Filter { return store.Filter{Kind: "Pod", Labels: reqs} }
	checkSelect(t, s, "app=web", pods(req("app", store.OpEquals, "web")), []string{"a/p1", "a/p2", "b/p1"})
	checkSelect(t, s, "app!=web", pods(req("app", store.OpNotEquals, "web")), []string{"a/p3", "b/p4", "c/p5"})
	checkSelect(t, s, "app in (db,x)", pods(req("app", store.OpIn, "db", "x")), []string{"a/p3"})
	checkSelect(t, s, "app in (web,db)", pods(req("app", store.OpIn, "web", "db")),
		[]string{"a/p1", "a/p2", "a/p3", "b/p1"})
	checkSelect(t, s, "app notin (web)", pods(req("app", store.OpNotIn, "web")), []string{"a/p3", "b/p4", "c/p5"})
	checkSelect(t, s, "tier", pods(req("tier", store.OpExists)), []string{"a/p1", "a/p2", "c/p5"})
	checkSelect(t, s, "!tier", pods(req("tier", store.OpDoesNotExist)), []string{"a/p3", "b/p1", "b/p4"})
	checkSelect(t, s, "app=web,tier=front", pods(req("app", store.OpEquals, "web"), req("tier", store.OpEquals, "front")),
		[]string{"a/p1"})
	checkSelect(t, s, "tier,app!=web", pods(req("tier", store.OpExists), req("app", store.OpNotEquals, "web")),
		[]string{"c/p5"})
	checkSelect(t, s, "app=web,!tier", pods(req("app", store.OpEquals, "web"), req("tier", store.OpDoesNotExist)),
		[]string{"b/p1"})
	checkSelect(t, s, "app=nothing", pods(req("app", store.OpEquals, "nothing")), nil)
}

func testFieldSelectors(t *testing.T, s store.Store) {
	selectorFixture(t, s)
	pods := func(reqs ...store.Requirement) store.Filter { return store.Filter{Kind: "Pod", Fields: reqs} }
	checkSelect(t, s, "spec.node=n1", pods(req("spec.node", store.OpEquals, "n1")), []string{"a/p1", "a/p3"})
	checkSelect(t, s, "spec.node=''", pods(req("spec.node", store.OpEquals, "")), []string{"c/p5"})
	checkSelect(t, s, "spec.node!=n1", pods(req("spec.node", store.OpNotEquals, "n1")),
		[]string{"a/p2", "b/p1", "b/p4", "c/p5"})
	checkSelect(t, s, "metadata.name=p1", pods(req("metadata.name", store.OpEquals, "p1")), []string{"a/p1", "b/p1"})
	checkSelect(t, s, "metadata.name!=p1", pods(req("metadata.name", store.OpNotEquals, "p1")),
		[]string{"a/p2", "a/p3", "b/p4", "c/p5"})
	checkSelect(t, s, "metadata.namespace=b", pods(req("metadata.namespace", store.OpEquals, "b")),
		[]string{"b/p1", "b/p4"})
	checkSelect(t, s, "metadata.namespace!=a", pods(req("metadata.namespace", store.OpNotEquals, "a")),
		[]string{"b/p1", "b/p4", "c/p5"})
	f := pods(req("spec.node", store.OpEquals, "n1"), req("metadata.name", store.OpNotEquals, "p1"))
	f.Labels = []store.Requirement{req("app", store.OpExists)}
	checkSelect(t, s, "spec.node=n1,metadata.name!=p1,app", f, []string{"a/p3"})
}

func testNamespacesAndOwner(t *testing.T, s store.Store) {
	selectorFixture(t, s)
	checkSelect(t, s, "namespace a", store.Filter{Kind: "Pod", Namespace: "a"}, []string{"a/p1", "a/p2", "a/p3"})
	checkSelect(t, s, "namespaces b,c,z", store.Filter{Kind: "Pod", Namespaces: []string{"c", "b", "z"}},
		[]string{"b/p1", "b/p4", "c/p5"})
	checkSelect(t, s, "namespaces empty", store.Filter{Kind: "Pod", Namespaces: []string{}}, nil)
	checkSelect(t, s, "namespace a within [b]", store.Filter{Kind: "Pod", Namespace: "a", Namespaces: []string{"b"}}, nil)
	checkSelect(t, s, "owner rs1", store.Filter{Kind: "Pod", OwnerUID: "rs1"}, []string{"a/p1", "a/p2", "b/p1"})
	checkSelect(t, s, "owner rs3", store.Filter{Kind: "Pod", OwnerUID: "rs3"}, []string{"b/p1"})
	f := store.Filter{Kind: "Pod", OwnerUID: "rs1", Namespaces: []string{"a"},
		Labels: []store.Requirement{req("tier", store.OpNotEquals, "front")}}
	checkSelect(t, s, "owner rs1 in [a], tier!=front", f, []string{"a/p2"})
}

// testResidualPagination pages with requirements that cannot use an index
// (so backends filter candidates after the query) over more rows than one
// query chunk.
func testResidualPagination(t *testing.T, s store.Store) {
	var objs []*store.Object
	var want []string
	for i := range 900 {
		color := []string{"red", "green", "blue"}[i%3]
		name := fmt.Sprintf("o%04d", i)
		o := obj("Widget", "ns", name, "color="+color)
		if i%10 == 0 {
			o.Labels["rare"] = "yes"
		}
		objs = append(objs, o)
		if color != "red" && i%10 != 0 {
			want = append(want, "ns/"+name)
		}
	}
	seed(t, s, objs)
	f := store.Filter{Kind: "Widget", Labels: []store.Requirement{req("color", store.OpNotIn, "red"),
		req("rare", store.OpDoesNotExist)}}
	for _, limit := range []int{0, 50, 333} {
		if got := names(listAll(t, s, f, limit)); !slices.Equal(got, want) {
			t.Fatalf("limit %d: %d items, want %d", limit, len(got), len(want))
		}
	}
	if n, err := s.Count(ctxT(t), f); err != nil || n != len(want) {
		t.Fatalf("Count = %d, %v; want %d", n, err, len(want))
	}
	rare := store.Filter{Kind: "Widget", Labels: []store.Requirement{req("rare", store.OpExists)}}
	if got := listAll(t, s, rare, 7); len(got) != 90 {
		t.Fatalf("rare: %d items, want 90", len(got))
	}
}

// testListWatchConsistency checks that ListResult.ResourceVersion matches
// the page. With writers creating objects, each list must hold exactly the
// objects created at or before its version, and a watch from a list's
// version must deliver exactly the others.
func testListWatchConsistency(t *testing.T, s store.Store) {
	const writers, each = 4, 60
	ctx := ctxT(t)
	var finished atomic.Int32
	wait := goWriters(t, writers, func(g int) error {
		defer finished.Add(1)
		for i := range each {
			if _, err := s.Create(ctx, obj("Job", "ns", fmt.Sprintf("w%d-%03d", g, i))); err != nil {
				return err
			}
		}
		return nil
	})
	var snaps []*store.ListResult
	for len(snaps) == 0 || finished.Load() < writers {
		res, err := s.List(ctx, store.ListOptions{Filter: store.Filter{Kind: "Job"}})
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		snaps = append(snaps, res)
	}
	wait()
	w := watch(t, s, store.WatchOptions{Filter: store.Filter{Kind: "Job"}, SinceRV: snaps[0].ResourceVersion})
	created := listAll(t, s, store.Filter{Kind: "Job"}, 0)
	if len(created) != writers*each {
		t.Fatalf("%d objects stored, want %d", len(created), writers*each)
	}
	for _, res := range snaps {
		checkSnapshot(t, res, created)
	}
	checkWatchComplements(t, w, snaps[0], len(created))
}

// checkSnapshot compares a list with the objects whose (creation) version
// is at most the list's version.
func checkSnapshot(t *testing.T, res *store.ListResult, all []*store.Object) {
	t.Helper()
	var want []string
	for _, o := range all {
		if o.ResourceVersion <= res.ResourceVersion {
			want = append(want, o.Name)
		}
	}
	var got []string
	for _, o := range res.Items {
		got = append(got, o.Name)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("list at version %d has %d objects, want the %d created up to it", res.ResourceVersion, len(got), len(want))
	}
}

func checkWatchComplements(t *testing.T, w store.Watcher, res *store.ListResult, total int) {
	t.Helper()
	seen := map[string]bool{}
	for _, o := range res.Items {
		seen[o.Name] = true
	}
	for _, ev := range collectN(t, w, total-len(res.Items)) {
		if seen[ev.Object.Name] {
			t.Fatalf("%s both listed and watched (list version %d, event %d)", ev.Object.Name,
				res.ResourceVersion, ev.Object.ResourceVersion)
		}
		seen[ev.Object.Name] = true
	}
	if len(seen) != total {
		t.Fatalf("list + watch saw %d objects, want %d", len(seen), total)
	}
}
