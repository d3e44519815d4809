package graph

import (
	"fmt"
	"math"
	"time"
)

// PlanResult is what Plan computes. The exported JSON fields are the
// summary printed by `kiln graph plan -o json`; the untagged ones carry the
// full plan for callers in Go.
type PlanResult struct {
	Nodes        int      `json:"nodes"`        // distinct names
	Edges        int      `json:"edges"`        // distinct edges, no self-loops
	Cycles       int      `json:"cycles"`       // components with > 1 member
	LargestCycle int      `json:"largestCycle"` // members of the largest
	Depth        int      `json:"depth"`        // levels, cycles collapsed
	CycleList    []Cycle  `json:"cycleList,omitempty"`
	Changed      []string `json:"changed,omitempty"`
	RebuildCount int      `json:"rebuildCount,omitempty"` // only with changed
	*Simulation
	PlanMillis float64 `json:"planMillis"` // cycles, levels and rebuild set

	Components *Components `json:"-"`
	Levels     []int32     `json:"-"` // per component
	Rebuild    []int32     `json:"-"` // node IDs to build, sorted; all without changed
	Schedule   *Schedule   `json:"-"` // nil without workers
}

// Cycle describes one strongly connected component with > 1 member.
type Cycle struct {
	Size int      `json:"size"`
	Path []string `json:"path"` // a shortest cycle through its first member: a, b, …, a
}

// Simulation summarises the scheduling simulation in seconds, rounded to
// milliseconds (Schedule has the exact figures).
type Simulation struct {
	Workers                int     `json:"workers"`
	Makespan               float64 `json:"makespan"`
	LowerBound             float64 `json:"lowerBound"`   // max(criticalPath, totalWork/workers)
	ReleaseBound           float64 `json:"releaseBound"` // tighter: also counts workers idle early on
	CriticalPath           float64 `json:"criticalPath"`
	TotalWork              float64 `json:"totalWork"`
	LevelBarrier           float64 `json:"levelBarrier"`
	MakespanOverLowerBound float64 `json:"makespanOverLowerBound"`
	GainOverLevelBarrier   float64 `json:"gainOverLevelBarrier"` // levelBarrier / makespan
	SimulateMillis         float64 `json:"simulateMillis"`
}

// Plan computes the build plan for a change: the cycles and levels of the
// whole graph, the rebuild set of the changed nodes (the whole graph when
// none are given) and, with workers > 0, a simulated schedule of the
// rebuild set. durations are seconds per name (missing names: 1 s; names
// not in the graph are ignored). It only computes; it changes nothing.
// Unknown changed names are an *UnknownNodesError.
func Plan(g *Graph, changed []string, durations map[string]float64, workers int) (*PlanResult, error) {
	if workers < 0 {
		return nil, fmt.Errorf("workers must be at least 1, got %d", workers)
	}
	ids, err := g.IDs(changed)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	r := &PlanResult{Nodes: g.N(), Edges: g.M()}
	r.Components = SCC(g)
	r.Levels = Levels(g, r.Components)
	r.Depth = Depth(r.Levels)
	r.describeCycles(g)
	in := r.rebuild(g, ids)
	r.PlanMillis = millis(time.Since(start))
	if workers > 0 {
		r.simulate(g, in, DurationsOf(g, durations), workers)
	}
	return r, nil
}

func (r *PlanResult) describeCycles(g *Graph) {
	cyc := r.Components.Cycles()
	r.Cycles = len(cyc)
	for _, ci := range cyc {
		r.LargestCycle = max(r.LargestCycle, r.Components.Size(ci))
		path := PathNames(g, CyclePath(g, r.Components, ci))
		r.CycleList = append(r.CycleList, Cycle{Size: r.Components.Size(ci), Path: path})
	}
}

// rebuild fills the rebuild set and returns its mask (nil: every node).
func (r *PlanResult) rebuild(g *Graph, ids []int32) []bool {
	if len(ids) == 0 {
		r.Rebuild = make([]int32, g.N())
		for v := range r.Rebuild {
			r.Rebuild[v] = int32(v)
		}
		return nil
	}
	ids = sortedUnique(ids)
	for _, v := range ids {
		r.Changed = append(r.Changed, g.Name(v))
	}
	in := rebuildMask(g, ids)
	for v, ok := range in {
		if ok {
			r.Rebuild = append(r.Rebuild, int32(v))
		}
	}
	r.RebuildCount = len(r.Rebuild)
	return in
}

func (r *PlanResult) simulate(g *Graph, in []bool, dur []float64, workers int) {
	start := time.Now()
	s := Simulate(g, r.Components, in, dur, workers)
	r.Schedule = s
	r.Simulation = &Simulation{
		Workers:      workers,
		Makespan:     round3(s.Makespan),
		LowerBound:   round3(s.LowerBound),
		ReleaseBound: round3(s.ReleaseBound),
		CriticalPath: round3(s.CriticalPath),
		TotalWork:    round3(s.TotalWork),
		LevelBarrier: round3(s.LevelBarrier),
	}
	if s.LowerBound > 0 {
		r.MakespanOverLowerBound = round4(s.Makespan / s.LowerBound)
	}
	if s.Makespan > 0 {
		r.GainOverLevelBarrier = round4(s.LevelBarrier / s.Makespan)
	}
	r.SimulateMillis = millis(time.Since(start))
}

// DurationsOf returns the duration of every node by ID: durations[name] or
// 1 second when absent.
func DurationsOf(g *Graph, durations map[string]float64) []float64 {
	dur := make([]float64, g.N())
	for v, name := range g.names {
		dur[v] = 1
		if d, ok := durations[name]; ok {
			dur[v] = d
		}
	}
	return dur
}

func millis(d time.Duration) float64 { return math.Round(float64(d.Microseconds())) / 1000 }

func round3(x float64) float64 { return math.Round(x*1e3) / 1e3 }

func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }
