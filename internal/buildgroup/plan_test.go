package buildgroup

import (
	"reflect"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

// chain is lib <- (cli, web) <- img, plus an unrelated doc.
func chain() Graph {
	return Graph{
		"lib": {Name: "lib", Seconds: 10},
		"cli": {Name: "cli", Deps: []string{"lib"}, Seconds: 5},
		"web": {Name: "web", Deps: []string{"lib"}, Seconds: 30},
		"img": {Name: "img", Deps: []string{"cli", "web"}, Seconds: 2},
		"doc": {Name: "doc", Seconds: 1},
	}
}

func world(g Graph) World {
	w := World{Builds: map[string]BuildView{}, Current: map[string]Artifact{}, Deps: map[string][]string{}}
	for name, n := range g {
		w.Current[name] = Artifact{Repository: "r/" + name, Digest: "sha256:old-" + name}
		w.Deps[name] = n.Deps
	}
	return w
}

func names(starts []Start) []string {
	var out []string
	for _, s := range starts {
		out = append(out, s.Component)
	}
	return out
}

func states(st *v1alpha1.BuildGroupStatus) map[string]string {
	out := map[string]string{}
	for _, m := range st.Members {
		out[m.Component] = m.State
	}
	return out
}

func plan(t *testing.T, g Graph, requested ...string) *v1alpha1.BuildGroupStatus {
	t.Helper()
	members, cycles, err := Plan(g, requested)
	if err != nil {
		t.Fatal(err)
	}
	return &v1alpha1.BuildGroupStatus{Members: members, Cycles: cycles}
}

func finish(w World, s Start, digest string, unchanged bool) {
	w.Builds[s.Build] = BuildView{Phase: v1alpha1.BuildSucceeded, Unchanged: unchanged,
		Artifact: Artifact{Repository: "r/" + s.Component, Digest: digest}}
}

func TestPlanOrdersByDependencyThenLongestChain(t *testing.T) {
	st := plan(t, chain(), "lib")
	var order []string
	for _, m := range st.Members {
		order = append(order, m.Component)
	}
	// web (30 s) is on the longest chain, so it comes before cli.
	if want := []string{"lib", "web", "cli", "img"}; !reflect.DeepEqual(order, want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	if st.Members[0].Priority != 42 { // lib 10 + web 30 + img 2
		t.Fatalf("lib priority %v, want 42", st.Members[0].Priority)
	}
}

func TestNoLevelBarrierAndFailureBlocksOnlyDependants(t *testing.T) {
	g := chain()
	st, w := plan(t, g, "lib"), world(g)
	starts := Advance("g", st, w)
	if got := names(starts); !reflect.DeepEqual(got, []string{"lib"}) {
		t.Fatalf("first starts %v", got)
	}
	finish(w, starts[0], "sha256:new-lib", false)
	starts = Advance("g", st, w)
	if got := names(starts); !reflect.DeepEqual(got, []string{"web", "cli"}) {
		t.Fatalf("after lib: %v", got)
	}
	for _, in := range starts[0].Inputs {
		if in.Component == "lib" && in.Digest != "sha256:new-lib" {
			t.Fatalf("web does not get the new lib: %+v", starts[0].Inputs)
		}
	}
	if r := starts[0].Reason; r.Type != v1alpha1.ReasonDependencyChange || r.Component != "lib" || r.OldDigest != "" && r.NewDigest != "sha256:new-lib" {
		t.Fatalf("reason %+v", r)
	}
	web, cli := starts[0], starts[1]
	w.Builds[cli.Build] = BuildView{Phase: v1alpha1.BuildFailed, Message: "step build failed"}
	if starts = Advance("g", st, w); len(starts) != 0 {
		t.Fatalf("img started although cli failed: %v", names(starts))
	}
	if s := states(st); s["img"] != v1alpha1.MemberBlocked || s["web"] != v1alpha1.MemberBuilding {
		t.Fatalf("states %v", s)
	}
	finish(w, web, "sha256:new-web", false)
	Advance("g", st, w)
	if st.Phase != v1alpha1.GroupFailed || st.Done != 4 {
		t.Fatalf("phase %s done %d: %s", st.Phase, st.Done, st.Message)
	}
	if n := Retry(st); n != 2 {
		t.Fatalf("retry re-queued %d members, want cli and img", n)
	}
	starts = Advance("g", st, w)
	if got := names(starts); !reflect.DeepEqual(got, []string{"cli"}) || starts[0].Build != "g-cli-2" {
		t.Fatalf("retry starts %v", starts)
	}
}

func TestEarlyCutoffStopsTheCascade(t *testing.T) {
	g := chain()
	st, w := plan(t, g, "lib"), world(g)
	starts := Advance("g", st, w)
	finish(w, starts[0], "sha256:other-manifest", true)
	if starts = Advance("g", st, w); len(starts) != 0 {
		t.Fatalf("unchanged lib rebuilt %v", names(starts))
	}
	for c, s := range states(st) {
		if s != v1alpha1.MemberUnchanged {
			t.Fatalf("%s is %s, want unchanged", c, s)
		}
	}
	if st.Phase != v1alpha1.GroupSucceeded {
		t.Fatalf("phase %s", st.Phase)
	}
}

func TestRebuildPolicies(t *testing.T) {
	g := chain()
	g["lib"].Rebuild = v1alpha1.RebuildDirect
	got, _ := g.Members([]string{"lib"})
	if want := []string{"cli", "lib", "web"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("direct: %v", got)
	}
	g["lib"].Rebuild = v1alpha1.RebuildLocal
	if got, _ = g.Members([]string{"lib"}); !reflect.DeepEqual(got, []string{"lib"}) {
		t.Fatalf("local: %v", got)
	}
	g["lib"].Rebuild = ""
	if got, _ = g.Members([]string{"lib", "doc"}); len(got) != 5 {
		t.Fatalf("transitive: %v", got)
	}
	if _, err := g.Members([]string{"nope"}); err == nil {
		t.Fatal("unknown component accepted")
	}
}

func TestUnresolvableBlocksDependants(t *testing.T) {
	g := chain()
	g["lib"].Missing = []string{"pkgconfig(zlib)"}
	st, w := plan(t, g, "lib"), world(g)
	if starts := Advance("g", st, w); len(starts) != 0 {
		t.Fatalf("started %v", names(starts))
	}
	s := states(st)
	if s["lib"] != v1alpha1.MemberUnresolvable || s["img"] != v1alpha1.MemberBlocked || !strings.Contains(st.Members[0].Message, "pkgconfig(zlib)") {
		t.Fatalf("states %v, %q", s, st.Members[0].Message)
	}
}

// cyclic: x <-> y, and app depends on x.
func cyclic() Graph {
	return Graph{
		"x":   {Name: "x", Deps: []string{"y"}},
		"y":   {Name: "y", Deps: []string{"x"}},
		"app": {Name: "app", Deps: []string{"x"}},
	}
}

func TestCycleBuildsTwiceAtMostAndOnlyWhatChanged(t *testing.T) {
	g := cyclic()
	st, wd := plan(t, g, "x"), world(g)
	if len(st.Cycles) != 1 || !strings.Contains(st.Cycles[0].Path, "->") {
		t.Fatalf("cycles %+v", st.Cycles)
	}
	builds := map[string]int{}
	for round := 0; round < 10; round++ {
		starts := Advance("g", st, wd)
		if len(starts) == 0 {
			break
		}
		for _, s := range starts {
			builds[s.Component]++
			finish(wd, s, "sha256:"+s.Build, false) // every build changes its output
		}
	}
	if st.Phase != v1alpha1.GroupSucceeded {
		t.Fatalf("phase %s: %+v", st.Phase, st.Members)
	}
	for c, n := range builds {
		if n > 2 {
			t.Fatalf("%s built %d times", c, n)
		}
	}
	// x was built first against y's previous artifact; y changed, so x
	// gets a second pass; y saw the new x already, so it does not.
	if builds["x"] != 2 || builds["y"] != 1 || builds["app"] != 1 {
		t.Fatalf("builds %v", builds)
	}
}

func TestCycleWithIdenticalOutputsNeedsNoSecondPass(t *testing.T) {
	g := cyclic()
	st, wd := plan(t, g, "x"), world(g)
	builds := 0
	for round := 0; round < 10; round++ {
		starts := Advance("g", st, wd)
		if len(starts) == 0 {
			break
		}
		for _, s := range starts {
			builds++
			finish(wd, s, "sha256:"+s.Build, s.Component == "y") // y's output is unchanged
		}
	}
	if builds != 3 || st.Phase != v1alpha1.GroupSucceeded { // x, y, app once each
		t.Fatalf("%d builds, phase %s", builds, st.Phase)
	}
}

func TestCycleWithoutPreviousArtifactsAsksForBootstrap(t *testing.T) {
	g := cyclic()
	st, wd := plan(t, g, "x"), world(g)
	delete(wd.Current, "y")
	Advance("g", st, wd)
	m := st.Members[0]
	if m.State != v1alpha1.MemberUnresolvable || !strings.Contains(m.Message, "bootstrapArtifact") {
		t.Fatalf("%+v", st.Members)
	}
}

func TestCancelStopsQueuedMembers(t *testing.T) {
	g := chain()
	st, w := plan(t, g, "lib"), world(g)
	w.Cancel = true
	if starts := Advance("g", st, w); len(starts) != 0 || st.Phase != v1alpha1.GroupCancelled {
		t.Fatalf("starts %v phase %s", names(starts), st.Phase)
	}
}
