package graph

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// randomGraph returns a random graph on up to n nodes with about m edges.
// Half the seeds bias edges "downwards" (mostly acyclic, long chains), the
// others are uniform (many cycles). Names are shuffled so that name order
// and structure are unrelated.
func randomGraph(rng *rand.Rand, n, m int) []Edge {
	perm := rng.Perm(n)
	name := func(i int) string { return fmt.Sprintf("n%03d", perm[i]) }
	downward := rng.IntN(2) == 0
	edges := make([]Edge, 0, m)
	for range m {
		a, b := rng.IntN(n), rng.IntN(n)
		if downward && a < b && rng.IntN(10) > 0 {
			a, b = b, a
		}
		edges = append(edges, Edge{name(a), name(b)})
	}
	return edges
}

// forRandomGraphs runs check on count seeded random graphs (small enough
// for the naive reference algorithms).
func forRandomGraphs(t *testing.T, count int, check func(t *testing.T, rng *rand.Rand, g *Graph)) {
	t.Helper()
	for seed := range uint64(count) {
		rng := rand.New(rand.NewPCG(seed, 42))
		n := 2 + rng.IntN(40)
		g := Build(randomGraph(rng, n, rng.IntN(3*n)))
		t.Run(fmt.Sprint(seed), func(t *testing.T) { check(t, rng, g) })
	}
}

// reach returns reach[u][v]: v is reachable from u over dependency edges
// (u depends on v, directly or not); every node reaches itself.
func reach(g *Graph) [][]bool {
	r := make([][]bool, g.N())
	for u := range int32(g.N()) {
		r[u] = make([]bool, g.N())
		stack := []int32{u}
		r[u][u] = true
		for len(stack) > 0 {
			v := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, d := range g.Deps(v) {
				if !r[u][d] {
					r[u][d] = true
					stack = append(stack, d)
				}
			}
		}
	}
	return r
}

func TestSCCMatchesReachability(t *testing.T) {
	t.Parallel()
	forRandomGraphs(t, 300, func(t *testing.T, _ *rand.Rand, g *Graph) {
		c, r := SCC(g), reach(g)
		for u := range int32(g.N()) {
			for v := range int32(g.N()) {
				same := r[u][v] && r[v][u]
				if same != (c.Of[u] == c.Of[v]) {
					t.Fatalf("%s and %s: mutually reachable %v, same component %v", g.Name(u), g.Name(v), same, !same)
				}
			}
			for _, d := range g.Deps(u) {
				if c.Of[d] > c.Of[u] {
					t.Fatalf("component order: %s (comp %d) depends on %s (comp %d)", g.Name(u), c.Of[u], g.Name(d), c.Of[d])
				}
			}
		}
		checkMembers(t, g, c)
	})
}

// checkMembers: every node is listed once, in its own component, sorted.
func checkMembers(t *testing.T, g *Graph, c *Components) {
	t.Helper()
	seen := 0
	for ci := range int32(c.Len()) {
		mem := c.Members(ci)
		if len(mem) == 0 || !slices.IsSorted(mem) {
			t.Fatalf("component %d members %v: empty or unsorted", ci, mem)
		}
		for _, v := range mem {
			if c.Of[v] != ci {
				t.Fatalf("%s listed in component %d but Of says %d", g.Name(v), ci, c.Of[v])
			}
		}
		seen += len(mem)
	}
	if seen != g.N() {
		t.Fatalf("members cover %d nodes, want %d", seen, g.N())
	}
}

func TestCyclePathIsASimpleCycle(t *testing.T) {
	t.Parallel()
	forRandomGraphs(t, 300, func(t *testing.T, _ *rand.Rand, g *Graph) {
		c := SCC(g)
		for _, ci := range c.Cycles() {
			p := CyclePath(g, c, ci)
			if len(p) < 3 || p[0] != c.Members(ci)[0] || p[len(p)-1] != p[0] {
				t.Fatalf("path %v for component %v", PathNames(g, p), PathNames(g, c.Members(ci)))
			}
			inner := slices.Clone(p[:len(p)-1])
			if len(sortedUnique(inner)) != len(p)-1 {
				t.Fatalf("path %v repeats a node", PathNames(g, p))
			}
			for i := 0; i+1 < len(p); i++ {
				if _, ok := slices.BinarySearch(g.Deps(p[i]), p[i+1]); !ok || c.Of[p[i]] != ci {
					t.Fatalf("path %s: no edge %s -> %s in the component", FormatPath(g, p), g.Name(p[i]), g.Name(p[i+1]))
				}
			}
		}
	})
}

// TestLevelsMatchFixpoint compares Levels with a naive relaxation to a
// fixpoint over the condensation.
func TestLevelsMatchFixpoint(t *testing.T) {
	t.Parallel()
	forRandomGraphs(t, 300, func(t *testing.T, _ *rand.Rand, g *Graph) {
		c := SCC(g)
		want := make([]int32, c.Len())
		for changed := true; changed; {
			changed = false
			for v := range int32(g.N()) {
				l := int32(1)
				for _, d := range g.Deps(v) {
					if c.Of[d] != c.Of[v] {
						l = max(l, want[c.Of[d]]+1)
					}
				}
				if l > want[c.Of[v]] {
					want[c.Of[v]], changed = l, true
				}
			}
		}
		if got := Levels(g, c); !slices.Equal(got, want) {
			t.Fatalf("levels %v, want %v", got, want)
		}
	})
}

func TestRebuildSetIsTheReverseClosure(t *testing.T) {
	t.Parallel()
	forRandomGraphs(t, 300, func(t *testing.T, rng *rand.Rand, g *Graph) {
		changed := randomChanged(rng, g)
		set := RebuildSet(g, changed)
		in := make([]bool, g.N())
		for _, v := range set {
			in[v] = true
		}
		r := reach(g)
		for v := range int32(g.N()) {
			dependsOnChange := slices.ContainsFunc(changed, func(ch int32) bool { return r[v][ch] })
			if in[v] != dependsOnChange {
				t.Fatalf("%s: in set %v, depends on a change %v", g.Name(v), in[v], dependsOnChange)
			}
			for _, x := range g.Dependents(v) {
				if in[v] && !in[x] {
					t.Fatalf("not closed: %s in the set, its dependent %s not", g.Name(v), g.Name(x))
				}
			}
		}
		if !slices.IsSorted(set) {
			t.Fatalf("rebuild set not sorted: %v", set)
		}
	})
}

func randomChanged(rng *rand.Rand, g *Graph) []int32 {
	if g.N() == 0 {
		return nil
	}
	changed := make([]int32, 1+rng.IntN(3))
	for i := range changed {
		changed[i] = int32(rng.IntN(g.N()))
	}
	return changed
}

func randomDurations(rng *rand.Rand, g *Graph) []float64 {
	dur := make([]float64, g.N())
	for v := range dur {
		dur[v] = float64(1 + rng.IntN(20))
		if rng.IntN(4) == 0 {
			dur[v] = 1 // many ties
		}
	}
	return dur
}

// TestScheduleIsValid checks every simulated schedule: each node of the
// set exactly once, nothing else; no node starts before all of its
// dependencies' components are finished; a worker runs one build at a time;
// makespan and level barrier are at least the lower bound.
func TestScheduleIsValid(t *testing.T) {
	t.Parallel()
	forRandomGraphs(t, 400, func(t *testing.T, rng *rand.Rand, g *Graph) {
		c := SCC(g)
		var in []bool
		if rng.IntN(2) == 0 {
			in = rebuildMask(g, randomChanged(rng, g))
		}
		workers := 1 + rng.IntN(6)
		dur := randomDurations(rng, g)
		s := Simulate(g, c, in, dur, workers)
		finish := checkTasks(t, g, in, dur, s)
		checkOrder(t, g, c, in, s, finish)
		checkWorkers(t, s, workers)
		if s.ReleaseBound < s.LowerBound || s.Makespan < s.ReleaseBound-1e-9 || s.LevelBarrier < s.ReleaseBound-1e-9 {
			t.Fatalf("makespan %v, level barrier %v, lower bound %v, release bound %v",
				s.Makespan, s.LevelBarrier, s.LowerBound, s.ReleaseBound)
		}
	})
}

// checkTasks returns each node's finish time (-1: not scheduled).
func checkTasks(t *testing.T, g *Graph, in []bool, dur []float64, s *Schedule) []float64 {
	t.Helper()
	finish := make([]float64, g.N())
	for i := range finish {
		finish[i] = -1
	}
	for _, task := range s.Tasks {
		if finish[task.Node] >= 0 {
			t.Fatalf("%s scheduled twice", g.Name(task.Node))
		}
		if in != nil && !in[task.Node] {
			t.Fatalf("%s scheduled but not in the set", g.Name(task.Node))
		}
		if task.Finish != task.Start+dur[task.Node] {
			t.Fatalf("%s: start %v finish %v duration %v", g.Name(task.Node), task.Start, task.Finish, dur[task.Node])
		}
		finish[task.Node] = task.Finish
	}
	for v := range int32(g.N()) {
		if (in == nil || in[v]) && finish[v] < 0 {
			t.Fatalf("%s is in the set but never scheduled", g.Name(v))
		}
	}
	return finish
}

func checkOrder(t *testing.T, g *Graph, c *Components, in []bool, s *Schedule, finish []float64) {
	t.Helper()
	for _, task := range s.Tasks {
		for _, d := range g.Deps(task.Node) {
			if c.Of[d] == c.Of[task.Node] || (in != nil && !in[d]) {
				continue
			}
			for _, m := range c.Members(c.Of[d]) {
				if finish[m] > task.Start {
					t.Fatalf("%s starts at %v before %s (component of its dependency %s) finishes at %v",
						g.Name(task.Node), task.Start, g.Name(m), g.Name(d), finish[m])
				}
			}
		}
	}
}

func checkWorkers(t *testing.T, s *Schedule, workers int) {
	t.Helper()
	busyUntil := make([]float64, workers)
	for _, task := range s.Tasks { // in start order
		if task.Worker < 0 || int(task.Worker) >= workers {
			t.Fatalf("worker %d out of range", task.Worker)
		}
		if task.Start < busyUntil[task.Worker] {
			t.Fatalf("worker %d starts %d at %v while busy until %v", task.Worker, task.Node, task.Start, busyUntil[task.Worker])
		}
		busyUntil[task.Worker] = task.Finish
	}
}

// TestPlanIsDeterministic: the same edges in another order, with
// duplicates, give an identical plan and schedule.
func TestPlanIsDeterministic(t *testing.T) {
	t.Parallel()
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 7))
		edges := randomGraph(rng, 60, 150)
		shuffled := append(slices.Clone(edges), edges[:20]...)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		a, b := Build(edges), Build(shuffled)
		changed := []string{edges[0].Dependency, edges[1].Dependent}
		if pa, pb := planJSON(t, a, changed), planJSON(t, b, changed); !bytes.Equal(pa, pb) {
			t.Fatalf("seed %d: plans differ:\n%s\n%s", seed, pa, pb)
		}
	}
}

func planJSON(t *testing.T, g *Graph, changed []string) []byte {
	t.Helper()
	res, err := Plan(g, changed, map[string]float64{changed[0]: 3}, 3)
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(fixtureView(g, res))
	if err != nil {
		t.Fatal(err)
	}
	return out
}
