package buildgroup

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

var stage1 = []v1alpha1.Param{{Name: "profiles", Value: "stage1"}}

// fresh is a graph whose components listed in boot have bootstrap params,
// and a world where only "base" (required by every member) has an
// artifact: the cycle's members were never built.
func fresh(g Graph, boot ...string) (Graph, World) {
	g["base"] = &Node{Name: "base"}
	w := World{Builds: map[string]BuildView{}, Deps: map[string][]string{}, Bootstrap: map[string][]v1alpha1.Param{},
		Current: map[string]Artifact{"base": {Repository: "r/base", Digest: "sha256:base"}}}
	for name, n := range g {
		if name != "base" {
			n.Deps = append(n.Deps, "base")
		}
		w.Deps[name] = n.Deps
	}
	for _, b := range boot {
		g[b].Bootstrap = true
		w.Bootstrap[b] = stage1
	}
	return g, w
}

// run advances the group until it starts nothing more, every build
// succeeding with a new output, and returns every build started. It
// checks that the controller's recomputation (Decided) of each started
// build is the build Advance started.
func run(t *testing.T, st *v1alpha1.BuildGroupStatus, w World) []Start {
	t.Helper()
	var all []Start
	for round := 0; round < 20; round++ {
		starts := Advance("g", st, w)
		if len(starts) == 0 {
			return all
		}
		for _, s := range starts {
			m := st.Members[indexOf(st.Members)[s.Component]]
			if again := Decided("g", st, m, w); !reflect.DeepEqual(again, s) {
				t.Fatalf("recomputed build of %s differs:\n%+v\n%+v", s.Component, again, s)
			}
			finish(w, s, "sha256:"+s.Build, false)
		}
		all = append(all, starts...)
	}
	t.Fatal("the group does not converge")
	return nil
}

func buildsOf(all []Start, component string) []Start {
	var out []Start
	for _, s := range all {
		if s.Component == component {
			out = append(out, s)
		}
	}
	return out
}

func inputNames(s Start) []string {
	var out []string
	for _, in := range s.Inputs {
		out = append(out, in.Component)
	}
	slices.Sort(out)
	return out
}

func inputDigest(s Start, component string) string {
	for _, in := range s.Inputs {
		if in.Component == component {
			return in.Digest
		}
	}
	return ""
}

// TestCycleBootstrapBuild: in a fresh cycle, the members with bootstrap
// params are built first, without the cycle members that have no artifact
// and with their params; the rest build against their artifacts; the
// bootstrap builds are rebuilt once with the component's own params
// against the peers' new artifacts; no member builds more than twice.
func TestCycleBootstrapBuild(t *testing.T) {
	for _, tc := range []struct {
		name  string
		graph Graph
		boot  []string
		// first is the expected order of first builds; bootstrap maps each
		// bootstrap build to the peers it leaves out.
		first     []string
		bootstrap map[string][]string
	}{
		{name: "2-cycle, the later by name has params", boot: []string{"y"},
			graph: Graph{"x": {Name: "x", Deps: []string{"y"}}, "y": {Name: "y", Deps: []string{"x"}}},
			first: []string{"y", "x"}, bootstrap: map[string][]string{"y": {"x"}}},
		{name: "2-cycle, both have params", boot: []string{"x", "y"},
			graph: Graph{"x": {Name: "x", Deps: []string{"y"}}, "y": {Name: "y", Deps: []string{"x"}}},
			first: []string{"x", "y"}, bootstrap: map[string][]string{"x": {"y"}}},
		{name: "3-cycle, the middle one has params", boot: []string{"q"},
			graph: Graph{"p": {Name: "p", Deps: []string{"q"}}, "q": {Name: "q", Deps: []string{"r"}}, "r": {Name: "r", Deps: []string{"p"}}},
			first: []string{"q", "p", "r"}, bootstrap: map[string][]string{"q": {"r"}}},
		{name: "3-cycle with a chord: q needs two peers", boot: []string{"q"},
			graph: Graph{"p": {Name: "p", Deps: []string{"q"}}, "q": {Name: "q", Deps: []string{"p", "r"}}, "r": {Name: "r", Deps: []string{"p", "q"}}},
			first: []string{"q", "p", "r"}, bootstrap: map[string][]string{"q": {"p", "r"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, w := fresh(tc.graph, tc.boot...)
			var requested []string
			for n := range tc.graph {
				requested = append(requested, n)
			}
			st := plan(t, g, requested...)
			all := run(t, st, w)
			if st.Phase != v1alpha1.GroupSucceeded {
				t.Fatalf("phase %s: %+v", st.Phase, st.Members)
			}
			var first []string
			for _, s := range all {
				if len(buildsOf(all, s.Component)) > 2 {
					t.Fatalf("%s built more than twice: %v", s.Component, names(all))
				}
				if !slices.Contains(first, s.Component) && s.Component != "base" {
					first = append(first, s.Component)
				}
			}
			if !reflect.DeepEqual(first, tc.first) {
				t.Fatalf("first builds in order %v, want %v", first, tc.first)
			}
			for _, name := range tc.first {
				checkMemberBuilds(t, tc.graph, all, name, tc.bootstrap[name])
			}
		})
	}
}

// checkMemberBuilds: a bootstrap build (without != nil) has the bootstrap
// params, every requirement but the peers left out as inputs, a cycle
// reason naming them and the params, and a second build with the
// component's own params against every requirement's new artifact; any
// other member builds once, without params, against everything.
func checkMemberBuilds(t *testing.T, g Graph, all []Start, name string, without []string) {
	t.Helper()
	builds := buildsOf(all, name)
	deps := slices.Sorted(slices.Values(g[name].Deps)) // base included
	if without == nil {
		if len(builds) != 1 || builds[0].Params != nil || !reflect.DeepEqual(inputNames(builds[0]), deps) {
			t.Fatalf("%s: builds %+v, want one, without params, with inputs %v", name, builds, deps)
		}
		return
	}
	boot := builds[0]
	want := slices.DeleteFunc(slices.Clone(deps), func(d string) bool { return slices.Contains(without, d) })
	if !reflect.DeepEqual(boot.Params, stage1) || !reflect.DeepEqual(inputNames(boot), want) {
		t.Fatalf("%s's bootstrap build: params %v inputs %v, want %v and %v", name, boot.Params, inputNames(boot), stage1, want)
	}
	r := boot.Reason
	if r.Type != v1alpha1.ReasonCycle || !strings.Contains(r.Message, "bootstrap of cycle") || !strings.Contains(r.Message, "profiles=stage1") ||
		!strings.Contains(r.Message, strings.Join(without, ", ")) || !strings.Contains(r.Message, " -> ") {
		t.Fatalf("%s's bootstrap reason %+v", name, r)
	}
	if len(builds) != 2 {
		t.Fatalf("%s built %d times, want a bootstrap build and a second pass", name, len(builds))
	}
	second := builds[1]
	if second.Params != nil || !reflect.DeepEqual(inputNames(second), deps) || second.Reason.Type != v1alpha1.ReasonCycle {
		t.Fatalf("%s's second build: %+v", name, second)
	}
	for _, d := range without {
		if peer := buildsOf(all, d); inputDigest(second, d) != "sha256:"+peer[len(peer)-1].Build {
			t.Fatalf("%s's second build is not against %s's new artifact: %+v", name, d, second.Inputs)
		}
	}
}

func TestCycleWithoutBootstrapIsUnresolvable(t *testing.T) {
	g, w := fresh(Graph{"x": {Name: "x", Deps: []string{"y"}}, "y": {Name: "y", Deps: []string{"x"}}})
	st := plan(t, g, "x", "y")
	if all := run(t, st, w); len(all) != 0 {
		t.Fatalf("started %v", names(all))
	}
	s := states(st)
	x := st.Members[indexOf(st.Members)["x"]]
	if s["x"] != v1alpha1.MemberUnresolvable || s["y"] != v1alpha1.MemberBlocked || st.Phase != v1alpha1.GroupFailed {
		t.Fatalf("states %v, phase %s", s, st.Phase)
	}
	for _, want := range []string{"x -> y -> x", "spec.build.bootstrap.params on x", "spec.build.bootstrapArtifact on y"} {
		if !strings.Contains(x.Message, want) {
			t.Fatalf("message %q lacks %q", x.Message, want)
		}
	}
}

// TestBootstrapOnlyWithoutArtifact: bootstrap params are not used when the
// peer has an artifact (a previous one or spec.build.bootstrapArtifact).
func TestBootstrapOnlyWithoutArtifact(t *testing.T) {
	g, w := fresh(Graph{"x": {Name: "x", Deps: []string{"y"}}, "y": {Name: "y", Deps: []string{"x"}}}, "x", "y")
	w.Current["y"] = Artifact{Repository: "r/seed", Digest: "sha256:seed"}
	st := plan(t, g, "x")
	all := run(t, st, w)
	for _, s := range all {
		if s.Params != nil || strings.Contains(s.Reason.Message, "bootstrap") {
			t.Fatalf("a bootstrap build although y has an artifact: %+v", s)
		}
	}
	if first := buildsOf(all, "x")[0]; inputDigest(first, "y") != "sha256:seed" || st.Phase != v1alpha1.GroupSucceeded {
		t.Fatalf("x's first build %+v, phase %s", first, st.Phase)
	}
}

// TestRetriedBootstrapBuild: a failed bootstrap build blocks its peer; a
// retry starts the cycle over: a bootstrap build again, then the peer,
// then the second pass.
func TestRetriedBootstrapBuild(t *testing.T) {
	g, w := fresh(Graph{"x": {Name: "x", Deps: []string{"y"}}, "y": {Name: "y", Deps: []string{"x"}}}, "y")
	st := plan(t, g, "x", "y")
	starts := Advance("g", st, w)
	w.Builds[starts[0].Build] = BuildView{Phase: v1alpha1.BuildFailed, Message: "step failed"}
	Advance("g", st, w)
	if s := states(st); s["y"] != v1alpha1.MemberFailed || s["x"] != v1alpha1.MemberBlocked || st.Phase != v1alpha1.GroupFailed {
		t.Fatalf("states %v phase %s", s, st.Phase)
	}
	Retry(st)
	all := run(t, st, w)
	if got := names(all); !reflect.DeepEqual(got, []string{"y", "x", "y"}) || st.Phase != v1alpha1.GroupSucceeded {
		t.Fatalf("after the retry %v, phase %s", got, st.Phase)
	}
	if !reflect.DeepEqual(all[0].Params, stage1) || all[2].Params != nil {
		t.Fatalf("after the retry: %+v", all)
	}
}

// TestPeerFailsAfterBootstrapBuild: the bootstrapped member is not left
// with its bootstrap build as if it were final: the second pass blocks it.
func TestPeerFailsAfterBootstrapBuild(t *testing.T) {
	g, w := fresh(Graph{"x": {Name: "x", Deps: []string{"y"}}, "y": {Name: "y", Deps: []string{"x"}}}, "y")
	st := plan(t, g, "x", "y")
	finish(w, Advance("g", st, w)[0], "sha256:y1", false)
	starts := Advance("g", st, w)
	w.Builds[starts[0].Build] = BuildView{Phase: v1alpha1.BuildFailed, Message: "step failed"}
	Advance("g", st, w)
	y := st.Members[indexOf(st.Members)["y"]]
	if y.State != v1alpha1.MemberBlocked || !strings.Contains(y.Message, "x has no artifact after the first pass") || st.Phase != v1alpha1.GroupFailed {
		t.Fatalf("y %+v, phase %s", y, st.Phase)
	}
}

// TestRetryStartsTheCycleOver: with artifacts, y fails after x was built
// against y's previous artifact: app, outside the cycle, is blocked (the
// cycle's artifacts are no consistent whole); the retry builds y, x again
// against y's new artifact (the cycle's second pass), then app.
func TestRetryStartsTheCycleOver(t *testing.T) {
	g := cyclic()
	st, w := plan(t, g, "x"), world(g)
	finish(w, Advance("g", st, w)[0], "sha256:x1", false)
	starts := Advance("g", st, w)
	w.Builds[starts[0].Build] = BuildView{Phase: v1alpha1.BuildFailed, Message: "step failed"}
	if starts = Advance("g", st, w); len(starts) != 0 {
		t.Fatalf("built %v against a cycle that did not build", names(starts))
	}
	if app := st.Members[indexOf(st.Members)["app"]]; app.State != v1alpha1.MemberBlocked || !strings.Contains(app.Message, "y did not build") {
		t.Fatalf("app %+v", app)
	}
	Retry(st)
	all := run(t, st, w)
	if got := names(all); !reflect.DeepEqual(got, []string{"y", "x", "app"}) || st.Phase != v1alpha1.GroupSucceeded {
		t.Fatalf("after the retry %v, phase %s", got, st.Phase)
	}
	if inputDigest(all[1], "y") != "sha256:"+all[0].Build {
		t.Fatalf("x's second pass is not against the retried y: %+v", all[1].Inputs)
	}
}
