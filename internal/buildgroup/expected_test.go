package buildgroup

import (
	"reflect"
	"testing"

	"github.com/kilnbuild/kiln/api/v1alpha1"
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
