package graph

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestGenerateShape checks the promised shape on the benchmark graph:
// sizes, one cluster of exactly Cycle members plus five small cycles,
// exactly Levels levels and a heavy-tailed in-degree.
func TestGenerateShape(t *testing.T) {
	t.Parallel()
	g, _ := big()
	res, err := Plan(g, nil, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	o := bigOptions
	if res.Nodes != o.Nodes || res.Edges != o.Edges || res.LargestCycle != o.Cycle || res.Cycles != 6 || res.Depth != o.Levels {
		t.Fatalf("nodes %d edges %d cycles %d largest %d depth %d, want %d %d 6 %d %d",
			res.Nodes, res.Edges, res.Cycles, res.LargestCycle, res.Depth, o.Nodes, o.Edges, o.Cycle, o.Levels)
	}
	in := make([]int, g.N())
	for v := range int32(g.N()) {
		in[v] = len(g.Dependents(v))
	}
	slices.Sort(in)
	top1 := 0 // edges into the 1% most depended-upon nodes
	for _, d := range in[len(in)-len(in)/100:] {
		top1 += d
	}
	if in[len(in)-1] < g.N()/10 || top1 < 2*g.M()/5 || in[len(in)/2] > 3 {
		t.Fatalf("in-degree not heavy-tailed: max %d, median %d, top 1%% get %d of %d edges", in[len(in)-1], in[len(in)/2], top1, g.M())
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	t.Parallel()
	o := GenerateOptions{Nodes: 3000, Edges: 20000, Cycle: 400, Levels: 15, Seed: 9}
	a, b := generateTSV(t, o), generateTSV(t, o)
	if !bytes.Equal(a, b) {
		t.Fatal("same seed gave different graphs")
	}
	o.Seed++
	if bytes.Equal(a, generateTSV(t, o)) {
		t.Fatal("another seed gave the same graph")
	}
}

func generateTSV(t *testing.T, o GenerateOptions) []byte {
	t.Helper()
	g, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteEdges(&buf, g); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestGenerateRejectsBadOptions(t *testing.T) {
	t.Parallel()
	ok := GenerateOptions{Nodes: 1000, Edges: 5000, Cycle: 100, Levels: 10}
	for _, change := range []func(*GenerateOptions){
		func(o *GenerateOptions) { o.Levels = 1 },
		func(o *GenerateOptions) { o.Nodes = 30 },
		func(o *GenerateOptions) { o.Cycle = 1 },
		func(o *GenerateOptions) { o.Cycle = 400 },
		func(o *GenerateOptions) { o.Edges = 10 },
	} {
		o := ok
		change(&o)
		if _, err := Generate(o); err == nil {
			t.Errorf("Generate(%+v) accepted", o)
		}
	}
	if _, err := Generate(ok); err != nil {
		t.Fatal(err)
	}
}

// TestMakespanNearLowerBound: on acyclic distribution-shaped graphs with
// hundreds of workers, list scheduling by bottom level stays within 2% of
// the lower bound, with unit and with skewed durations, and never loses to
// the level barrier.
func TestMakespanNearLowerBound(t *testing.T) {
	t.Parallel()
	g, err := Generate(GenerateOptions{Nodes: 10000, Edges: 70000, Levels: 25, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	c := SCC(g)
	if len(c.Cycles()) != 0 {
		t.Fatal("Cycle 0 should give an acyclic graph")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	skewed := make([]float64, g.N())
	for v := range skewed {
		u := rng.Float64()
		skewed[v] = 30 + 600*u*u*u // most builds short, a few long
	}
	for _, dur := range [][]float64{DurationsOf(g, nil), skewed} {
		for _, w := range []int{100, 200, 300, 500, 800} {
			s := Simulate(g, c, nil, dur, w)
			if s.Makespan > 1.02*s.LowerBound || s.Makespan > s.LevelBarrier {
				t.Errorf("%d workers: makespan %.1f, lower bound %.1f (×%.4f), level barrier %.1f",
					w, s.Makespan, s.LowerBound, s.Makespan/s.LowerBound, s.LevelBarrier)
			}
		}
	}
}

// TestBigGraphRebuildOfCore: changing the most depended-upon package
// rebuilds most of the distribution, including the whole cluster.
func TestBigGraphRebuildOfCore(t *testing.T) {
	t.Parallel()
	g, _ := big()
	top := mostDependedUpon(g)
	res, err := Plan(g, []string{g.Name(top)}, nil, 256)
	if err != nil {
		t.Fatal(err)
	}
	if res.RebuildCount < g.N()/3 {
		t.Fatalf("rebuild of %s: %d nodes", g.Name(top), res.RebuildCount)
	}
	if res.Makespan < res.LowerBound || res.GainOverLevelBarrier < 1 {
		t.Fatalf("makespan %v lower bound %v gain %v", res.Makespan, res.LowerBound, res.GainOverLevelBarrier)
	}
}
