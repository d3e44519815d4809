// Package graph is Kiln's offline planner: a compact dependency graph and
// pure functions over it (strongly connected components, levels, the
// reverse-dependency rebuild set, a list-scheduling simulation) that compute
// a build plan without doing anything. The live group planner
// (internal/buildgroup) calls it and applies the plans; this package only
// computes them ("compute, then act"). command.go adds the offline
// `kiln graph` commands, which read and write files.
//
// Nodes are dense int32 IDs assigned in name order, so ID order is name order
// and every tie broken "by ID" is broken by name. Adjacency is stored in CSR
// (compressed sparse row) form in both directions. See docs/graph.md.
package graph

import (
	"cmp"
	"slices"
	"strings"
)

// Edge says Dependent needs Dependency to be built first.
type Edge struct {
	Dependent  string
	Dependency string
}

// Graph is an immutable dependency graph in CSR form. Self-loops and
// duplicate edges are dropped when it is built.
type Graph struct {
	names []string // sorted; the index is the node ID

	depOff []int32 // deps of v: deps[depOff[v]:depOff[v+1]], sorted
	deps   []int32
	rdeOff []int32 // dependents of v: rdeps[rdeOff[v]:rdeOff[v+1]], sorted
	rdeps  []int32
}

// Build returns the graph of the given edges. Names are taken as they are.
func Build(edges []Edge) *Graph {
	in := newInterner(2 * len(edges))
	pairs := make([]int32, 0, 2*len(edges))
	for _, e := range edges {
		pairs = append(pairs, in.id(e.Dependent), in.id(e.Dependency))
	}
	return fromPairs(in.names, pairs)
}

// N is the number of nodes.
func (g *Graph) N() int { return len(g.names) }

// M is the number of distinct edges (self-loops excluded).
func (g *Graph) M() int { return len(g.deps) }

// Name returns the name of node v.
func (g *Graph) Name(v int32) string { return g.names[v] }

// Names returns all names in ID order (sorted). Do not modify it.
func (g *Graph) Names() []string { return g.names }

// ID returns the node called name.
func (g *Graph) ID(name string) (int32, bool) {
	i, ok := slices.BinarySearch(g.names, name)
	return int32(i), ok
}

// Deps returns the dependencies of v, sorted. Do not modify it.
func (g *Graph) Deps(v int32) []int32 { return g.deps[g.depOff[v]:g.depOff[v+1]] }

// Dependents returns the nodes that depend directly on v (its reverse
// dependencies), sorted. Do not modify it.
func (g *Graph) Dependents(v int32) []int32 { return g.rdeps[g.rdeOff[v]:g.rdeOff[v+1]] }

// Edges returns every edge, ordered by dependent then dependency.
func (g *Graph) Edges() []Edge {
	out := make([]Edge, 0, g.M())
	for v := range int32(g.N()) {
		for _, d := range g.Deps(v) {
			out = append(out, Edge{g.names[v], g.names[d]})
		}
	}
	return out
}

// interner assigns IDs to names in order of first appearance.
type interner struct {
	ids   map[string]int32
	names []string
}

func newInterner(hint int) *interner {
	return &interner{ids: make(map[string]int32, hint)}
}

func (in *interner) id(name string) int32 {
	if id, ok := in.ids[name]; ok {
		return id
	}
	id := int32(len(in.names))
	in.ids[name] = id
	in.names = append(in.names, name)
	return id
}

// fromPairs builds the graph from names in any order and (dependent,
// dependency) ID pairs flattened into one slice. It takes ownership of both.
func fromPairs(names []string, pairs []int32) *Graph {
	perm := sortNames(names)
	for i, p := range pairs {
		pairs[i] = perm[p]
	}
	g := &Graph{names: names}
	g.depOff, g.deps = csr(len(names), pairs, 0)
	g.rdeOff, g.rdeps = transpose(g.depOff, g.deps)
	return g
}

// sortNames sorts names in place and returns old ID → new ID. Entries
// carry their first 8 bytes as a number, so most comparisons never touch
// the string data.
func sortNames(names []string) []int32 {
	type entry struct {
		prefix uint64
		name   string
		old    int32
	}
	es := make([]entry, len(names))
	for i, n := range names {
		es[i] = entry{prefix8(n), n, int32(i)}
	}
	slices.SortFunc(es, func(a, b entry) int {
		if a.prefix != b.prefix {
			return cmp.Compare(a.prefix, b.prefix)
		}
		return strings.Compare(a.name, b.name)
	})
	perm := make([]int32, len(names))
	for newID, e := range es {
		perm[e.old] = int32(newID)
		names[newID] = e.name
	}
	return perm
}

// prefix8 packs the first 8 bytes big-endian (zero-padded), which orders
// like the strings themselves.
func prefix8(s string) uint64 {
	var p uint64
	for i := range 8 {
		p <<= 8
		if i < len(s) {
			p |= uint64(s[i])
		}
	}
	return p
}

// csr groups the pairs by their element at index src (0 or 1) and returns
// rows that are sorted, deduplicated and free of self-loops.
func csr(n int, pairs []int32, src int) (off, adj []int32) {
	off = make([]int32, n+1)
	for i := src; i < len(pairs); i += 2 {
		off[pairs[i]+1]++
	}
	for v := range n {
		off[v+1] += off[v]
	}
	adj = make([]int32, len(pairs)/2)
	next := slices.Clone(off[:n])
	for i := 0; i < len(pairs); i += 2 {
		from, to := pairs[i+src], pairs[i+1-src]
		adj[next[from]] = to
		next[from]++
	}
	return compact(off, adj)
}

// compact sorts each row, drops duplicates and self-loops, and closes gaps.
func compact(off, adj []int32) ([]int32, []int32) {
	w, start := int32(0), off[0]
	for v := 0; v+1 < len(off); v++ {
		end := off[v+1]
		row := adj[start:end]
		start = end
		slices.Sort(row)
		off[v] = w
		prev := int32(-1)
		for _, x := range row {
			if x != prev && x != int32(v) {
				adj[w] = x
				w++
			}
			prev = x
		}
	}
	off[len(off)-1] = w
	return off, slices.Clip(adj[:w])
}

// transpose returns the reverse adjacency; rows come out sorted because
// sources are visited in increasing order.
func transpose(off, adj []int32) ([]int32, []int32) {
	n := len(off) - 1
	roff := make([]int32, n+1)
	for _, x := range adj {
		roff[x+1]++
	}
	for v := range n {
		roff[v+1] += roff[v]
	}
	radj := make([]int32, len(adj))
	next := slices.Clone(roff[:n])
	for v := range int32(n) {
		for _, x := range adj[off[v]:off[v+1]] {
			radj[next[x]] = v
			next[x]++
		}
	}
	return roff, radj
}

// sortedUnique sorts ids and removes duplicates in place.
func sortedUnique[T cmp.Ordered](ids []T) []T {
	slices.Sort(ids)
	return slices.Compact(ids)
}
