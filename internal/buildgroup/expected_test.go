package buildgroup

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/graph"
)

func sized(name string, bytes int64) *v1alpha1.Component {
	c := &v1alpha1.Component{}
	c.Name = name
	if bytes >= 0 {
		c.Status.Capabilities = &v1alpha1.Capabilities{SourceBytes: bytes}
	}
	return c
}

func TestExpectedWithoutHistoryUsesTheDefaultRate(t *testing.T) {
	t.Parallel()
	comps := []*v1alpha1.Component{sized("big", 80<<20), sized("small", 4<<10), sized("unscanned", -1)}
	got := Expected(comps, nil)
	want := map[string]float64{"big": 10240, "small": defaultFloorSeconds, "unscanned": defaultFloorSeconds}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Expected = %v, want %v", got, want)
	}
}

func TestExpectedLearnsTheRateFromTheNamespace(t *testing.T) {
	t.Parallel()
	comps := []*v1alpha1.Component{
		sized("a", 1000), sized("b", 3000), sized("c", 6000), // measured: 100 s for 10,000 bytes
		sized("new-big", 50000), sized("new-tiny", 10),
	}
	last := map[string]float64{"a": 5, "b": 35, "c": 60}
	got := Expected(comps, last)
	want := map[string]float64{"a": 5, "b": 35, "c": 60, "new-big": 500, "new-tiny": 5}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Expected = %v, want %v", got, want)
	}
}

func TestExpectedNeedsEnoughSamples(t *testing.T) {
	t.Parallel()
	comps := []*v1alpha1.Component{sized("a", 1000), sized("b", 3000), sized("new", 16<<10)}
	got := Expected(comps, map[string]float64{"a": 1, "b": 2})
	if got["new"] != defaultFloorSeconds { // 2 s at the default rate, below the default floor
		t.Errorf("Expected[new] = %v with 2 samples, want the default floor %v", got["new"], defaultFloorSeconds)
	}
}

// A group built from nothing starts a long leaf first when its code says
// it is long, rather than after a chain of short members: on the Debian
// slice, pmix (one dependency, no dependants, half of the critical path)
// was started last when every first build weighed the same.
func TestFirstBuildsAreOrderedByTheirSize(t *testing.T) {
	t.Parallel()
	comps := []*v1alpha1.Component{
		sized("lib", 100<<10), sized("a", 40<<10), sized("b", 40<<10), sized("c", 40<<10), sized("big", 8<<20),
	}
	g := Graph{
		"lib": {Name: "lib"},
		"a":   {Name: "a", Deps: []string{"lib"}},
		"b":   {Name: "b", Deps: []string{"a"}},
		"c":   {Name: "c", Deps: []string{"b"}},
		"big": {Name: "big", Deps: []string{"lib"}},
	}
	for name, s := range Expected(comps, nil) {
		g[name].Seconds = s
	}
	members, _, err := Plan(g, []string{"lib", "a", "b", "c", "big"})
	if err != nil {
		t.Fatal(err)
	}
	prio := map[string]float64{}
	for _, m := range members {
		prio[m.Component] = m.Priority
	}
	if prio["big"] <= prio["a"] {
		t.Errorf("priorities %v: big (8 MiB of code) must go before a (a chain of three 40 KiB members)", prio)
	}
}

// TestFirstBuildOfTheDebianSlice replays the Debian slice's first build
// (examples/debian-slice; its graph, each member's measured duration and its
// code size in testdata/debian-slice): the group's priorities, planned
// before any duration was known, against a schedule that knew them all.
// With every first build weighing the same, pmix (913 s, half of the
// critical path, one dependency and no dependants) starts last and the
// group takes 1.19 x as long on 2 workers, 1.4 x on 3 or 4.
func TestFirstBuildOfTheDebianSlice(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("testdata", "debian-slice")
	eg := parseFile(t, filepath.Join(dir, "edges.tsv"), graph.ParseEdges)
	measured := parseFile(t, filepath.Join(dir, "durations.tsv"), graph.ParseDurations)
	size := parseFile(t, filepath.Join(dir, "sourcebytes.tsv"), graph.ParseDurations)
	if eg.N() != 52 || len(measured) != 52 || len(size) != 52 {
		t.Fatalf("fixture: %d nodes, %d durations, %d sizes; want 52 each", eg.N(), len(measured), len(size))
	}
	var comps []*v1alpha1.Component
	for _, name := range eg.Names() {
		comps = append(comps, sized(name, int64(size[name])))
	}
	estimated := slicePriorities(t, eg, Expected(comps, nil))
	unit := slicePriorities(t, eg, nil)
	sc, dur := graph.SCC(eg), graph.DurationsOf(eg, measured)
	worst := 0.0
	for _, workers := range []int{2, 3, 4, 8} {
		knew := graph.Simulate(eg, sc, nil, dur, workers).Makespan
		guessed := graph.SimulateWithPriorities(eg, sc, nil, estimated, dur, workers).Makespan
		same := graph.SimulateWithPriorities(eg, sc, nil, unit, dur, workers).Makespan
		t.Logf("%d workers: knowing the durations %.0f s; weighed by code size %.0f s (%.3f x); all weighing the same %.0f s (%.3f x)",
			workers, knew, guessed, guessed/knew, same, same/knew)
		if guessed > 1.05*knew {
			t.Errorf("%d workers: a first build planned by code size takes %.0f s, over 1.05 x the %.0f s of a plan that knew the durations", workers, guessed, knew)
		}
		worst = max(worst, same/knew)
	}
	if worst <= 1.05 {
		t.Errorf("the fixture does not tell the estimate from none: weighing every member the same is at most %.3f x", worst)
	}
}

// slicePriorities plans the whole graph with the given expected durations
// (nil: none known) and returns each node's member priority.
func slicePriorities(t *testing.T, eg *graph.Graph, expected map[string]float64) []float64 {
	t.Helper()
	g := Graph{}
	for _, name := range eg.Names() {
		g[name] = &Node{Name: name, Seconds: expected[name]}
	}
	for _, e := range eg.Edges() {
		g[e.Dependent].Deps = append(g[e.Dependent].Deps, e.Dependency)
	}
	members, _, err := Plan(g, eg.Names())
	if err != nil {
		t.Fatal(err)
	}
	prio := make([]float64, eg.N())
	for _, m := range members {
		id, _ := eg.ID(m.Component)
		prio[id] = m.Priority
	}
	return prio
}

func parseFile[T any](t *testing.T, path string, parse func(io.Reader) (T, error)) T {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, err := parse(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}
