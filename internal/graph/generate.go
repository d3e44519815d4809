package graph

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
)

// GenerateOptions shapes a synthetic distribution-like graph.
type GenerateOptions struct {
	Nodes  int    // distinct packages
	Edges  int    // distinct dependency edges (reached exactly when possible)
	Cycle  int    // members of the big bootstrap cluster (0: none)
	Levels int    // depth of the graph with cycles collapsed
	Seed   uint64 // same options and seed → same graph
}

// Generate builds a graph shaped like a Linux distribution: a small core at
// level 1 that almost everything depends on (preferential attachment gives a
// power-law in-degree), level sizes decaying with height, exactly
// o.Levels levels, one strongly connected cluster of exactly o.Cycle
// members just above the core (like a compiler/runtime bootstrap loop) and a
// few small cycles of 2–4 members higher up. With Cycle 0 it is acyclic.
func Generate(o GenerateOptions) (*Graph, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	gen := newGenerator(o)
	gen.placeCluster()
	gen.addDependencies()
	gen.addSmallCycles()
	gen.topUp()
	return fromPairs(gen.names(), gen.pairs()), nil
}

func (o GenerateOptions) validate() error {
	switch {
	case o.Levels < 2:
		return fmt.Errorf("--levels must be at least 2, got %d", o.Levels)
	case o.Nodes < 4*o.Levels:
		return fmt.Errorf("--nodes must be at least 4 × --levels (%d), got %d", 4*o.Levels, o.Nodes)
	case o.Cycle == 1 || o.Cycle < 0 || o.Cycle > o.Nodes/3:
		return fmt.Errorf("--cycle must be 0 or between 2 and --nodes/3 (%d), got %d", o.Nodes/3, o.Cycle)
	case o.Edges < o.Nodes || o.Edges > o.Nodes*o.Nodes/8:
		return fmt.Errorf("--edges must be between --nodes and --nodes²/8, got %d", o.Edges)
	}
	return nil
}

type edgeKey struct{ from, to int32 }

type generator struct {
	o       GenerateOptions
	rng     *rand.Rand
	level   []int32   // node → level (nodes are numbered level by level)
	byLevel [][]int32 // level → nodes
	member  []bool    // in the big cluster
	edges   map[edgeKey]struct{}
	order   []edgeKey // insertion order, for determinism
	urn     []int32   // preferential-attachment urn
}

func newGenerator(o GenerateOptions) *generator {
	gen := &generator{o: o, rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x6b696c6e)),
		member: make([]bool, o.Nodes), edges: make(map[edgeKey]struct{}, o.Edges)}
	sizes := levelSizes(o.Nodes, o.Levels)
	gen.byLevel = make([][]int32, o.Levels+1)
	for l, v := 1, int32(0); l <= o.Levels; l++ {
		for range sizes[l] {
			gen.level = append(gen.level, int32(l))
			gen.byLevel[l] = append(gen.byLevel[l], v)
			v++
		}
	}
	return gen
}

// levelSizes splits n nodes over the levels: a core of about 1% at level 1,
// then sizes decaying exponentially with height; every level gets ≥ 2.
func levelSizes(n, levels int) []int {
	w := make([]float64, levels+1)
	sum := 0.0
	for l := 1; l <= levels; l++ {
		w[l] = 10 * math.Exp(-float64(l-2)/6)
		if l == 1 {
			w[l] = 0.7
		}
		sum += w[l]
	}
	sizes := make([]int, levels+1)
	left := n - 2*levels
	given := 0
	for l := 1; l <= levels; l++ {
		sizes[l] = 2 + int(float64(left)*w[l]/sum)
		given += sizes[l]
	}
	sizes[2] += n - given // rounding remainder
	return sizes
}

func (gen *generator) add(from, to int32) bool {
	k := edgeKey{from, to}
	if from == to {
		return false
	}
	if _, dup := gen.edges[k]; dup {
		return false
	}
	gen.edges[k] = struct{}{}
	gen.order = append(gen.order, k)
	return true
}

// placeCluster picks the cluster's members from the levels just above the
// core (enough levels to hold twice as many nodes) and links them in a ring
// in random order plus chords. Members depend on nothing but the core, so no
// path leaves the cluster and comes back: the component is exactly them.
func (gen *generator) placeCluster() {
	k := gen.o.Cycle
	if k == 0 {
		return
	}
	var band []int32
	for l := 2; l <= gen.o.Levels && len(band) < 2*k; l++ {
		band = append(band, gen.byLevel[l]...)
	}
	gen.rng.Shuffle(len(band), func(i, j int) { band[i], band[j] = band[j], band[i] })
	ring := band[:min(k, len(band))]
	for _, v := range ring {
		gen.member[v] = true
	}
	for i, v := range ring {
		gen.add(v, ring[(i+1)%len(ring)])
	}
	for range k / 4 {
		gen.add(ring[gen.rng.IntN(len(ring))], ring[gen.rng.IntN(len(ring))])
	}
}

// addDependencies gives every node above the core a "spine" dependency on
// a non-cluster node one level down (so levels are exact) and more
// dependencies drawn from the urn, which holds only lower levels.
func (gen *generator) addDependencies() {
	nonCore := gen.o.Nodes - len(gen.byLevel[1])
	mean := float64(gen.o.Edges-len(gen.order)) / float64(nonCore) * 0.97
	for l := 2; l <= gen.o.Levels; l++ {
		gen.fillUrn(l - 1)
		for _, v := range gen.byLevel[l] {
			if !gen.member[v] {
				gen.add(v, gen.spineTarget(l-1))
			}
			for range gen.outDegree(mean) - 1 {
				gen.addDrawn(v, l)
			}
		}
	}
}

// fillUrn makes the nodes of level l available as targets. Core nodes
// get Zipf-like head starts (the first as many as the whole core, the
// second half that, …) so that a few are depended upon by a large part of
// the graph, like libc.
func (gen *generator) fillUrn(l int) {
	nodes := gen.byLevel[l]
	for rank, v := range nodes {
		copies := 1
		if l == 1 {
			copies = max(1, 4*len(nodes)/(rank+1))
		}
		for range copies {
			gen.urn = append(gen.urn, v)
		}
	}
}

func (gen *generator) spineTarget(l int) int32 {
	nodes := gen.byLevel[l]
	for range 32 {
		if v := nodes[gen.rng.IntN(len(nodes))]; !gen.member[v] {
			return v
		}
	}
	return nodes[0]
}

// outDegree draws a geometric out-degree (≥ 1) with the given mean.
func (gen *generator) outDegree(mean float64) int {
	p := 1 / max(mean, 1)
	d := 1
	for d < 400 && gen.rng.Float64() > p {
		d++
	}
	return d
}

// addDrawn adds an edge from v (at level l) to a node drawn from the urn,
// retrying on duplicates; cluster members only take core targets.
func (gen *generator) addDrawn(v int32, l int) bool {
	for range 8 {
		t := gen.urn[gen.rng.IntN(len(gen.urn))]
		if gen.member[v] && gen.level[t] != 1 {
			t = gen.byLevel[1][gen.rng.IntN(len(gen.byLevel[1]))]
		}
		if gen.level[t] < int32(l) && gen.add(v, t) {
			gen.urn = append(gen.urn, t)
			return true
		}
	}
	return false
}

// addSmallCycles links a few small groups on one level (2, 3, 4, 2, 3
// members) into rings; nodes on one level cannot reach each other
// otherwise, so each ring is exactly one component. Without a big cluster
// (Cycle 0) the graph stays acyclic.
func (gen *generator) addSmallCycles() {
	if gen.o.Cycle == 0 {
		return
	}
	l := gen.o.Levels / 2
	nodes := slices.DeleteFunc(slices.Clone(gen.byLevel[l]), func(v int32) bool { return gen.member[v] })
	gen.rng.Shuffle(len(nodes), func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })
	for _, size := range []int{2, 3, 4, 2, 3} {
		if len(nodes) < size {
			return
		}
		for i := range size {
			gen.add(nodes[i], nodes[(i+1)%size])
		}
		nodes = nodes[size:]
	}
}

// topUp adds drawn edges from random nodes above the core until the edge
// count is reached (or too many draws fail).
func (gen *generator) topUp() {
	for fails := 0; len(gen.order) < gen.o.Edges && fails < 100*gen.o.Edges; {
		v := int32(len(gen.byLevel[1]) + gen.rng.IntN(gen.o.Nodes-len(gen.byLevel[1])))
		if !gen.addDrawn(v, int(gen.level[v])) {
			fails++
		}
	}
}

// names assigns "pkg" names in a random order so that name order does not
// follow levels.
func (gen *generator) names() []string {
	perm := gen.rng.Perm(gen.o.Nodes)
	width := len(strconv.Itoa(gen.o.Nodes - 1))
	out := make([]string, gen.o.Nodes)
	for v, p := range perm {
		out[v] = fmt.Sprintf("pkg%0*d", width, p)
	}
	return out
}

func (gen *generator) pairs() []int32 {
	out := make([]int32, 0, 2*len(gen.order))
	for _, k := range gen.order {
		out = append(out, k.from, k.to)
	}
	return out
}

// WriteEdges writes the graph as "dependent<TAB>dependency" lines, ordered
// by dependent then dependency.
func WriteEdges(w io.Writer, g *Graph) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	for v := range int32(g.N()) {
		for _, d := range g.Deps(v) {
			bw.WriteString(g.names[v])
			bw.WriteByte('\t')
			bw.WriteString(g.names[d])
			bw.WriteByte('\n')
		}
	}
	return bw.Flush()
}
