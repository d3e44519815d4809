package graph

import (
	"bytes"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
)

// bigOptions is the distribution-scale graph of docs/graph.md.
var bigOptions = GenerateOptions{Nodes: 30000, Edges: 210000, Cycle: 4000, Levels: 25, Seed: 1}

var big = sync.OnceValues(func() (*Graph, []byte) {
	g, err := Generate(bigOptions)
	if err != nil {
		panic(err)
	}
	var buf bytes.Buffer
	if err := WriteEdges(&buf, g); err != nil {
		panic(err)
	}
	return g, buf.Bytes()
})

func BenchmarkParse(b *testing.B) {
	_, data := big()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParseEdges(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlan is the whole-graph plan: cycles, levels, rebuild set of
// everything (no simulation), as planMillis measures it.
func BenchmarkPlan(b *testing.B) {
	g, _ := big()
	for b.Loop() {
		if _, err := Plan(g, nil, nil, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRebuildSet is the reverse-dependency set of the most
// depended-upon node (the worst case: most of the graph).
func BenchmarkRebuildSet(b *testing.B) {
	g, _ := big()
	top := mostDependedUpon(g)
	var set []int32
	for b.Loop() {
		set = RebuildSet(g, []int32{top})
	}
	b.ReportMetric(float64(len(set)), "nodes")
}

// BenchmarkRebuildSetRandom is the reverse-dependency set of one random
// node at a time (seeded), the typical single-package change.
func BenchmarkRebuildSetRandom(b *testing.B) {
	g, _ := big()
	rng := rand.New(rand.NewPCG(1, 1))
	nodes := make([]int32, 1024)
	for i := range nodes {
		nodes[i] = int32(rng.IntN(g.N()))
	}
	i := 0
	for b.Loop() {
		RebuildSet(g, nodes[i%len(nodes):i%len(nodes)+1])
		i++
	}
}

func BenchmarkSimulate(b *testing.B) {
	g, _ := big()
	c := SCC(g)
	dur := DurationsOf(g, nil)
	for b.Loop() {
		Simulate(g, c, nil, dur, 256)
	}
}

func mostDependedUpon(g *Graph) int32 {
	best := int32(0)
	for v := range int32(g.N()) {
		if len(g.Dependents(v)) > len(g.Dependents(best)) {
			best = v
		}
	}
	return best
}

// BenchmarkParseFile parses the edges file named by $KILN_GRAPH_EDGES
// (e.g. the Debian graph of docs/graph.md); skipped when unset.
func BenchmarkParseFile(b *testing.B) {
	path := os.Getenv("KILN_GRAPH_EDGES")
	if path == "" {
		b.Skip("set KILN_GRAPH_EDGES to an edges file")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParseEdges(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSimulateFile simulates a full rebuild of $KILN_GRAPH_EDGES on
// 256 workers; skipped when unset.
func BenchmarkSimulateFile(b *testing.B) {
	path := os.Getenv("KILN_GRAPH_EDGES")
	if path == "" {
		b.Skip("set KILN_GRAPH_EDGES to an edges file")
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	g, err := ParseEdges(f)
	if err != nil {
		b.Fatal(err)
	}
	c, dur := SCC(g), DurationsOf(g, nil)
	for b.Loop() {
		Simulate(g, c, nil, dur, 256)
	}
}
