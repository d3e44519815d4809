package capability

import (
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// Declared is what a user wrote in a Component spec.
type Declared struct {
	Provides []string `json:"provides,omitempty"`
	// Requires are capabilities or names of other components.
	Requires []string `json:"requires,omitempty"`
}

// Resolution is the outcome of Resolve.
type Resolution struct {
	// Deps maps every component to the components it must be built after,
	// sorted. Components without dependencies map to nil.
	Deps map[string][]string `json:"deps"`
	// Unresolvable are build requirements no component provides, by
	// component, in the component's order of requirements. Optional ones
	// are listed too (Requirement.Optional): they are usually met outside
	// Kiln.
	Unresolvable []Unresolvable `json:"unresolvable,omitempty"`
	// Ambiguous are capabilities several components provide, by capability.
	Ambiguous []Ambiguous `json:"ambiguous,omitempty"`
}

// Unresolvable is a requirement of Component that nothing provides.
type Unresolvable struct {
	Component   string      `json:"component"`
	Requirement Requirement `json:"requirement"`
}

// Ambiguous is a capability with several providers and the one chosen: the
// provider named like the capability's base name (see BaseName), else the
// first by name.
type Ambiguous struct {
	Capability string   `json:"capability"`
	Providers  []string `json:"providers"`
	Chosen     string   `json:"chosen"`
}

// Edge says Dependent must be built after Dependency. It converts to
// graph.Edge.
type Edge struct {
	Dependent  string
	Dependency string
}

// DeclaredSource is the Requirement.Source of requirements from Declared.
const DeclaredSource = "component spec"

// Resolve turns the detected capabilities of components (by component name)
// and what users declared into dependencies between components. Only build
// requirements make edges; a requirement the component meets itself makes
// none. For a requirement with alternatives, the first alternative someone
// provides wins. A declared requirement that is a component's name is a
// dependency on that component. The result does not depend on map order.
func Resolve(components map[string]*Set, declared map[string]Declared) (*Resolution, error) {
	r, err := newResolver(components, declared)
	if err != nil {
		return nil, err
	}
	nProvides, nQueries, results := r.prepare()
	amb, err := r.join(nProvides, nQueries, results)
	if err != nil {
		return nil, err
	}
	res := &Resolution{Ambiguous: amb}
	res.Deps, res.Unresolvable = r.assemble(results)
	return res, nil
}

// resolver works on dense component IDs in name order.
type resolver struct {
	names []string
	ids   map[string]int32
	sets  []*Set
	decl  []Declared
	// nAlts is the number of BuildRequires alternatives: the slots of
	// declared requirements follow theirs in the results. Component i's
	// slots start at slots[i] and declSlots[i].
	nAlts            int
	slots, declSlots []int32
}

func newResolver(components map[string]*Set, declared map[string]Declared) (*resolver, error) {
	type entry struct {
		name string
		set  *Set
	}
	all := make([]entry, 0, len(components)+len(declared))
	for n, s := range components {
		all = append(all, entry{n, s})
	}
	for n := range declared {
		if _, ok := components[n]; !ok {
			all = append(all, entry{name: n})
		}
	}
	slices.SortFunc(all, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	r := &resolver{names: make([]string, len(all)), ids: make(map[string]int32, len(all)),
		sets: make([]*Set, len(all)), decl: make([]Declared, len(all))}
	for i, e := range all {
		r.names[i], r.ids[e.name], r.sets[i], r.decl[i] = e.name, int32(i), e.set, declared[e.name]
		if e.set == nil {
			r.sets[i] = &Set{}
		}
		if err := checkDeclared(e.name, r.decl[i]); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Results of looking up one alternative of a requirement.
const (
	notProvided  = -2
	selfProvided = -1 // else: the ID of the chosen provider
)

// prepare counts both sides of the join and makes the results: a slot per
// alternative of BuildRequires (the first nAlts, component by component),
// then one per declared requirement.
func (r *resolver) prepare() (nProvides, nQueries int, results []int32) {
	n := len(r.sets)
	r.slots, r.declSlots = make([]int32, n+1), make([]int32, n+1)
	nDeclared := 0
	for i, s := range r.sets {
		nProvides += len(s.Provides) + len(r.decl[i].Provides)
		r.slots[i], r.declSlots[i] = int32(r.nAlts), int32(nDeclared)
		for _, req := range s.BuildRequires {
			r.nAlts += len(req.Any)
		}
		nDeclared += len(r.decl[i].Requires)
	}
	r.slots[n], r.declSlots[n] = int32(r.nAlts), int32(nDeclared)
	for i := range r.declSlots {
		r.declSlots[i] += int32(r.nAlts)
	}
	results = make([]int32, r.nAlts, r.nAlts+nDeclared)
	for i := range results {
		results[i] = notProvided
	}
	results = r.settleDeclared(results)
	return nProvides, r.nAlts + countNotProvided(results[r.nAlts:]), results
}

// settleDeclared appends the results of declared requirements: those that
// name a component are settled now, the others are looked up.
func (r *resolver) settleDeclared(results []int32) []int32 {
	for i := range r.decl {
		for _, d := range r.decl[i].Requires {
			c, ok := r.ids[d]
			switch {
			case !ok:
				c = notProvided
			case c == int32(i):
				c = selfProvided
			}
			results = append(results, c)
		}
	}
	return results
}

// walkProvides yields every provided capability with its provider, in ID
// order.
func (r *resolver) walkProvides(fn func(name string, owner, slot int32)) {
	for i, s := range r.sets {
		for _, p := range s.Provides {
			fn(p.Name, int32(i), 0)
		}
		for _, p := range r.decl[i].Provides {
			fn(p, int32(i), 0)
		}
	}
}

// walkQueries yields every requirement alternative to look up with its
// slot in the results (see prepare).
func (r *resolver) walkQueries(fn func(name string, owner, slot int32)) {
	slot := int32(0)
	for i, s := range r.sets {
		for _, req := range s.BuildRequires {
			for _, a := range req.Any {
				fn(a, int32(i), slot)
				slot++
			}
		}
	}
	for i := range r.decl {
		for _, d := range r.decl[i].Requires {
			if _, ok := r.ids[d]; !ok {
				fn(d, int32(i), slot)
			}
			slot++
		}
	}
}

// assemble turns the lookup results into dependencies and unresolvable
// requirements, for ranges of components in parallel.
func (r *resolver) assemble(results []int32) (map[string][]string, []Unresolvable) {
	n := len(r.names)
	workers := max(1, min(runtime.GOMAXPROCS(0), n/1024))
	pieces := make([]piece, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { pieces[w] = r.assembleRange(w*n/workers, (w+1)*n/workers, results) })
	}
	wg.Wait()
	deps := make(map[string][]string, n)
	var un []Unresolvable
	for w, p := range pieces {
		start, lo := 0, w*n/workers
		for k, end := range p.ends {
			deps[r.names[lo+k]] = nil
			if end > start {
				deps[r.names[lo+k]] = p.deps[start:end:end]
			}
			start = end
		}
		un = append(un, p.un...)
	}
	return deps, un
}

// piece is what assembleRange found for a range of components.
type piece struct {
	deps []string // the names of their dependencies, one after the other
	ends []int    // where each component's dependencies end in deps
	un   []Unresolvable
}

func (r *resolver) assembleRange(lo, hi int, results []int32) piece {
	maxDeps := int(r.slots[hi]-r.slots[lo]) + int(r.declSlots[hi]-r.declSlots[lo])
	p := piece{deps: make([]string, 0, maxDeps), ends: make([]int, 0, hi-lo),
		un: make([]Unresolvable, 0, countNotProvided(results[r.slots[lo]:r.slots[hi]]))}
	var ids []int32
	for i := lo; i < hi; i++ {
		ids = r.depsOf(i, results, ids[:0], &p.un)
		for _, id := range ids {
			p.deps = append(p.deps, r.names[id])
		}
		p.ends = append(p.ends, len(p.deps))
	}
	return p
}

func countNotProvided(results []int32) (n int) {
	for _, x := range results {
		if x == notProvided {
			n++
		}
	}
	return n
}

// depsOf appends the sorted, unique IDs component i depends on to out and
// records its unresolvable requirements.
func (r *resolver) depsOf(i int, results []int32, out []int32, un *[]Unresolvable) []int32 {
	slot, dslot := int(r.slots[i]), int(r.declSlots[i])
	for _, req := range r.sets[i].BuildRequires {
		if len(req.Any) > 0 {
			out = r.settle(i, firstProvider(results[slot:slot+len(req.Any)]), req, out, un)
		}
		slot += len(req.Any)
	}
	for _, d := range r.decl[i].Requires {
		req := Requirement{Any: []string{d}, Source: DeclaredSource}
		out = r.settle(i, results[dslot], req, out, un)
		dslot++
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// settle records what one requirement of component i resolved to.
func (r *resolver) settle(i int, p int32, req Requirement, out []int32, un *[]Unresolvable) []int32 {
	switch {
	case p == notProvided:
		*un = append(*un, Unresolvable{Component: r.names[i], Requirement: req})
	case p >= 0:
		out = append(out, p)
	}
	return out
}

// firstProvider: selfProvided if the component provides any alternative,
// else the provider of the first provided one, else notProvided.
func firstProvider(alts []int32) int32 {
	first := int32(notProvided)
	for _, p := range alts {
		if p == selfProvided {
			return selfProvided
		}
		if first == notProvided {
			first = p
		}
	}
	return first
}

// Edges lists every dependency, by dependent then dependency.
func (res *Resolution) Edges() []Edge {
	var out []Edge
	for _, c := range slices.Sorted(maps.Keys(res.Deps)) {
		for _, d := range res.Deps[c] {
			out = append(out, Edge{Dependent: c, Dependency: d})
		}
	}
	return out
}

// isMajorVersion matches a Go module major version suffix: v2, v10.
func isMajorVersion(s string) bool {
	return len(s) > 1 && s[0] == 'v' && strings.Trim(s[1:], "0123456789") == ""
}

// BaseName is the name a capability is about: the innermost argument of
// "ns(...)" forms, the last element of a path (a Go major version suffix
// such as "/v2" skipped), without a shared-library suffix:
// golang(example.com/greet/v2) → greet, pkgconfig(greet) → greet,
// npm(@acme/greet) → greet, libgreet.so.1()(64bit) → libgreet.
func BaseName(capability string) string {
	s := strings.TrimSuffix(strings.TrimSuffix(capability, "(64bit)"), "()")
	for {
		i := strings.IndexByte(s, '(')
		if i <= 0 || !strings.HasSuffix(s, ")") {
			break
		}
		s = s[i+1 : len(s)-1]
	}
	parts := strings.Split(s, "/")
	s = parts[len(parts)-1]
	if len(parts) > 1 && isMajorVersion(s) {
		s = parts[len(parts)-2]
	}
	if i := strings.Index(s, ".so"); i > 0 && (i+3 == len(s) || s[i+3] == '.') {
		s = s[:i]
	}
	return s
}

func checkDeclared(name string, d Declared) error {
	if name == "" {
		return fmt.Errorf("resolving capabilities: a component has an empty name")
	}
	if i := slices.Index(d.Provides, ""); i >= 0 {
		return fmt.Errorf("resolving capabilities: component %s: provides[%d] is empty", name, i)
	}
	if i := slices.Index(d.Requires, ""); i >= 0 {
		return fmt.Errorf("resolving capabilities: component %s: requires[%d] is empty", name, i)
	}
	return nil
}
