package capability

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestResolveFixtures(t *testing.T) {
	t.Parallel()
	comps := map[string]*Set{}
	for _, name := range fixtures {
		comps[name] = detectFixture(t, name)
	}
	res, err := Resolve(comps, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"go-cli": {"go-greet"}, "go-greet": nil,
		"greet-cli": {"libgreet"}, "libgreet": nil, "multispec": nil,
		"npm-app": {"npm-greet"}, "npm-greet": nil,
		"override": {"go-greet", "libgreet"},
		"py-app":   {"py-greet"}, "py-greet": nil,
	}
	if !reflect.DeepEqual(res.Deps, want) {
		t.Errorf("deps = %v\nwant %v", res.Deps, want)
	}
	if len(res.Ambiguous) != 0 {
		t.Errorf("ambiguous = %+v", res.Ambiguous)
	}
	other := Unresolvable{Component: "multispec", Requirement: Requirement{Any: []string{"other"}, Source: "multispec.spec:6"}}
	if !slices.ContainsFunc(res.Unresolvable, func(u Unresolvable) bool { return reflect.DeepEqual(u, other) }) {
		t.Errorf("unresolvable lacks %+v: %+v", other, res.Unresolvable)
	}
}

// set builds a Set: provides, then build requirements as "a|b" for
// alternatives and "a?" for optional.
func set(provides []string, requires ...string) *Set {
	s := &Set{}
	for _, p := range provides {
		s.Provides = append(s.Provides, Provide{Name: p, Source: "test"})
	}
	for _, r := range requires {
		opt := strings.HasSuffix(r, "?")
		r = strings.TrimSuffix(r, "?")
		s.BuildRequires = append(s.BuildRequires, Requirement{Any: strings.Split(r, "|"), Source: "test", Optional: opt})
	}
	return s
}

func TestResolveAmbiguous(t *testing.T) {
	t.Parallel()
	comps := map[string]*Set{
		"alpha":    set([]string{"pkgconfig(greet)", "libfoo.so.1()(64bit)"}),
		"greet":    set([]string{"pkgconfig(greet)"}),
		"zeta":     set([]string{"pkgconfig(greet)", "libfoo.so.1()(64bit)"}),
		"libfoo":   set([]string{"libfoo.so.1()(64bit)"}),
		"consumer": set(nil, "pkgconfig(greet)", "libfoo.so.1()(64bit)"),
	}
	res, err := Resolve(comps, map[string]Declared{"beta": {Provides: []string{"shared"}}, "gamma": {Provides: []string{"shared"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := []Ambiguous{
		{Capability: "libfoo.so.1()(64bit)", Providers: []string{"alpha", "libfoo", "zeta"}, Chosen: "libfoo"},
		{Capability: "pkgconfig(greet)", Providers: []string{"alpha", "greet", "zeta"}, Chosen: "greet"},
		{Capability: "shared", Providers: []string{"beta", "gamma"}, Chosen: "beta"},
	}
	if !reflect.DeepEqual(res.Ambiguous, want) {
		t.Errorf("ambiguous = %+v\nwant %+v", res.Ambiguous, want)
	}
	if got := res.Deps["consumer"]; !slices.Equal(got, []string{"greet", "libfoo"}) {
		t.Errorf("consumer deps = %q", got)
	}
}

func TestResolveSelfAndAlternatives(t *testing.T) {
	t.Parallel()
	comps := map[string]*Set{
		"a": set([]string{"x", "shared"}, "x", "y|x", "shared"),
		"b": set([]string{"y", "shared"}, "missing|z|y"),
		"c": set([]string{"z"}, "missing|y|z?"),
	}
	res, err := Resolve(comps, nil)
	if err != nil {
		t.Fatal(err)
	}
	// a meets x, (y or x) and shared itself; b meets (missing or z or y)
	// itself through y; c: first provided alternative y → b, though c
	// provides z (a later alternative): c meets it itself.
	want := map[string][]string{"a": nil, "b": nil, "c": nil}
	if !reflect.DeepEqual(res.Deps, want) {
		t.Errorf("deps = %v, want %v", res.Deps, want)
	}
	comps["d"] = set(nil, "missing|z|y", "nothing?", "none")
	res, err = Resolve(comps, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Deps["d"]; !slices.Equal(got, []string{"c"}) {
		t.Errorf("d deps = %q, want the provider of the first provided alternative", got)
	}
	wantUn := []Unresolvable{
		{Component: "d", Requirement: Requirement{Any: []string{"nothing"}, Source: "test", Optional: true}},
		{Component: "d", Requirement: Requirement{Any: []string{"none"}, Source: "test"}},
	}
	if !reflect.DeepEqual(res.Unresolvable, wantUn) {
		t.Errorf("unresolvable = %+v\nwant %+v", res.Unresolvable, wantUn)
	}
}

func TestResolveDeclared(t *testing.T) {
	t.Parallel()
	comps := map[string]*Set{
		"libgreet":  set([]string{"pkgconfig(greet)"}),
		"greet-cli": set(nil),
		"docs":      nil,
	}
	declared := map[string]Declared{
		"greet-cli": {Requires: []string{"libgreet", "docs", "greet-cli", "theme", "ghost"}},
		"themes":    {Provides: []string{"theme"}},
		"docs":      {Requires: []string{"pkgconfig(greet)"}},
	}
	res, err := Resolve(comps, declared)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"docs": {"libgreet"}, "greet-cli": {"docs", "libgreet", "themes"},
		"libgreet": nil, "themes": nil,
	}
	if !reflect.DeepEqual(res.Deps, want) {
		t.Errorf("deps = %v\nwant %v", res.Deps, want)
	}
	wantUn := []Unresolvable{{Component: "greet-cli", Requirement: Requirement{Any: []string{"ghost"}, Source: DeclaredSource}}}
	if !reflect.DeepEqual(res.Unresolvable, wantUn) {
		t.Errorf("unresolvable = %+v", res.Unresolvable)
	}
	wantEdges := []Edge{{"docs", "libgreet"}, {"greet-cli", "docs"}, {"greet-cli", "libgreet"}, {"greet-cli", "themes"}}
	if got := res.Edges(); !slices.Equal(got, wantEdges) {
		t.Errorf("edges = %v", got)
	}
}

func TestResolveErrors(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		comps map[string]*Set
		decl  map[string]Declared
	}{
		"resolving capabilities: a component has an empty name":     {comps: map[string]*Set{"": nil}},
		"resolving capabilities: component a: provides[1] is empty": {decl: map[string]Declared{"a": {Provides: []string{"x", ""}}}},
		"resolving capabilities: component a: requires[0] is empty": {decl: map[string]Declared{"a": {Requires: []string{""}}}},
	}
	for want, c := range cases {
		if _, err := Resolve(c.comps, c.decl); err == nil || err.Error() != want {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
}

func TestBaseName(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"golang(example.com/greet/v2)": "greet",
		"golang(example.com/greet)":    "greet",
		"golang(v2)":                   "v2",
		"pkgconfig(greet)":             "greet",
		"npm(@acme/greet)":             "greet",
		"python3dist(greet-lib)":       "greet-lib",
		"libgreet.so.1()(64bit)":       "libgreet",
		"libgreet.so":                  "libgreet",
		"libgreet.sock":                "libgreet.sock",
		"greet-devel":                  "greet-devel",
		"bundled(golang(x.org/y))":     "y",
		"/usr/bin/pkg-config":          "pkg-config",
	}
	for in, want := range cases {
		if got := BaseName(in); got != want {
			t.Errorf("BaseName(%q) = %q, want %q", in, got, want)
		}
	}
}

// naiveResolve is Resolve written the obvious way, to check the fast one.
func naiveResolve(comps map[string]*Set) map[string][]string {
	providers := map[string][]string{}
	for _, name := range slices.Sorted(maps.Keys(comps)) {
		for _, p := range comps[name].Provides {
			if !slices.Contains(providers[p.Name], name) {
				providers[p.Name] = append(providers[p.Name], name)
			}
		}
	}
	chosen := func(c string) string {
		for _, p := range providers[c] {
			if p == BaseName(c) {
				return p
			}
		}
		return providers[c][0]
	}
	out := map[string][]string{}
	for name, s := range comps {
		var deps []string
		for _, r := range s.BuildRequires {
			self := slices.ContainsFunc(r.Any, func(a string) bool { return slices.Contains(providers[a], name) })
			i := slices.IndexFunc(r.Any, func(a string) bool { return len(providers[a]) > 0 })
			if !self && i >= 0 {
				deps = append(deps, chosen(r.Any[i]))
			}
		}
		slices.Sort(deps)
		out[name] = slices.Compact(deps)
		if len(out[name]) == 0 {
			out[name] = nil
		}
	}
	return out
}

func TestResolveMatchesNaive(t *testing.T) {
	t.Parallel()
	for seed := range uint64(20) {
		comps := randomComponents(rand.New(rand.NewPCG(seed, 1)), 200, 4, 4, 60)
		checkAgainstNaive(t, comps)
	}
	// Large enough for several partitions and parallel workers.
	big := randomComponents(rand.New(rand.NewPCG(99, 1)), 3000, 4, 4, 8000)
	if partitionBits(3000*4) < 3 {
		t.Fatal("the large case no longer has several partitions")
	}
	checkAgainstNaive(t, big)
}

func checkAgainstNaive(t *testing.T, comps map[string]*Set) {
	t.Helper()
	res, err := Resolve(comps, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := naiveResolve(comps); !reflect.DeepEqual(res.Deps, want) {
		for name, deps := range want {
			if !slices.Equal(res.Deps[name], deps) {
				t.Fatalf("%d components: %s depends on %q, the naive resolver says %q", len(comps), name, res.Deps[name], deps)
			}
		}
		t.Fatalf("%d components: deps differ from the naive resolver", len(comps))
	}
	again, _ := Resolve(comps, nil)
	if !reflect.DeepEqual(res, again) {
		t.Fatalf("%d components: two runs differ", len(comps))
	}
}

// randomComponents makes n components with the given numbers of provides
// and requires each, drawn from pool capability names: small pools make
// ambiguity and self-provided requirements common.
func randomComponents(r *rand.Rand, n, provides, requires, pool int) map[string]*Set {
	comps := make(map[string]*Set, n)
	capName := func() string { return fmt.Sprintf("cap-%d", r.IntN(pool)) }
	for i := range n {
		s := &Set{}
		for range provides {
			s.Provides = append(s.Provides, Provide{Name: capName()})
		}
		for range requires {
			alts := []string{capName()}
			if r.IntN(4) == 0 {
				alts = append([]string{"missing-" + capName()}, alts...)
			}
			s.BuildRequires = append(s.BuildRequires, Requirement{Any: alts})
		}
		comps[fmt.Sprintf("c%d", i)] = s
	}
	return comps
}

// benchComponents is 30,000 components with 10 provides and 10 build
// requirements each: mostly capabilities of other components, one
// unresolvable, one with alternatives, and some capabilities provided by
// two components.
func benchComponents() map[string]*Set {
	const n = 30000
	r := rand.New(rand.NewPCG(1, 2))
	comps := make(map[string]*Set, n)
	for i := range n {
		s := &Set{}
		for j := range 9 {
			s.Provides = append(s.Provides, Provide{Name: fmt.Sprintf("pkgconfig(lib%05d-%d)", i, j)})
		}
		s.Provides = append(s.Provides, Provide{Name: fmt.Sprintf("golang(example.com/shared/m%d)", i/2)})
		for range 8 {
			s.BuildRequires = append(s.BuildRequires, Requirement{Any: []string{fmt.Sprintf("pkgconfig(lib%05d-%d)", r.IntN(n), r.IntN(9))}})
		}
		s.BuildRequires = append(s.BuildRequires,
			Requirement{Any: []string{fmt.Sprintf("external-%d", r.IntN(1000))}},
			Requirement{Any: []string{"missing", fmt.Sprintf("golang(example.com/shared/m%d)", r.IntN(n/2))}})
		comps[fmt.Sprintf("component-%05d", i)] = s
	}
	return comps
}

func BenchmarkResolve30k(b *testing.B) {
	comps := benchComponents()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := Resolve(comps, nil)
		if err != nil || len(res.Deps) != len(comps) {
			b.Fatal(err)
		}
	}
}

// BenchmarkMapBaseline30k is the floor a plain map would start from on the
// same input: inserting every provide of benchComponents into one
// map[string]int32 and looking every requirement alternative up, in
// component name order, nothing else. Compare BenchmarkResolve30k with it on the same machine.
func BenchmarkMapBaseline30k(b *testing.B) {
	comps := benchComponents()
	var sets []*Set
	for _, name := range slices.Sorted(maps.Keys(comps)) {
		sets = append(sets, comps[name])
	}
	b.ReportAllocs()
	for b.Loop() {
		m := make(map[string]int32, 10*len(sets))
		for i, s := range sets {
			for _, p := range s.Provides {
				m[p.Name] = int32(i)
			}
		}
		found := 0
		for _, s := range sets {
			for _, r := range s.BuildRequires {
				for _, a := range r.Any {
					if _, ok := m[a]; ok {
						found++
					}
				}
			}
		}
		if found == 0 {
			b.Fatal("nothing found")
		}
	}
}
