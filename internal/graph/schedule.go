package graph

import (
	"cmp"
	"slices"
)

// Task is one simulated build.
type Task struct {
	Node          int32
	Worker        int32 // 0 … workers-1
	Start, Finish float64
}

// Schedule is the result of a scheduling simulation. Times are seconds.
type Schedule struct {
	Tasks        []Task    // one per node of the set, in start order
	Priority     []float64 // bottom level of each node (0 outside the set)
	Makespan     float64   // finish of the last task, list scheduling
	CriticalPath float64   // longest dependency chain (cycles collapsed)
	TotalWork    float64   // sum of the durations
	LowerBound   float64   // max(CriticalPath, TotalWork/workers)
	ReleaseBound float64   // ≥ LowerBound, counts idle workers early on (releaseBound)
	LevelBarrier float64   // makespan when every level waits for the previous one
}

// Simulate list-schedules the nodes of the set (in[v]; nil means all) on
// the given number of workers (at least 1). The set must be closed under
// reverse edges (as rebuild sets are): dependencies outside it count as
// already built.
//
// A node becomes ready when every component it depends on is finished; no
// level barriers. The members of a strongly connected component are built
// once each, individually: they become ready together when the component's
// dependencies outside it are finished (edges inside the cycle are ignored:
// members build against each other's previous builds, as a bootstrap pass
// does), and its dependents wait for all of them. Among ready nodes, the one
// with the longest remaining path (its bottom level, own duration included)
// starts first; ties go to the smaller name.
func Simulate(g *Graph, c *Components, in []bool, dur []float64, workers int) *Schedule {
	workers = max(workers, 1)
	sch := newSim(g, c, in, dur, workers).schedule(workers)
	sch.ReleaseBound = max(sch.LowerBound, releaseBound(g, c, in, dur, workers))
	sch.LevelBarrier = levelBarrier(g, c, in, dur, workers)
	return sch
}

// SimulateWithPriorities is Simulate with the order among ready nodes
// taken from prio (indexed by node, e.g. priorities computed from
// estimated durations) while each task takes dur: how a live schedule that
// had to guess the durations does against Simulate's, which knew them.
func SimulateWithPriorities(g *Graph, c *Components, in []bool, prio, dur []float64, workers int) *Schedule {
	workers = max(workers, 1)
	s := newSim(g, c, in, dur, workers)
	s.prio = prio
	return s.schedule(workers)
}

// schedule runs the simulation and sums it up (without the bounds that
// take their own passes).
func (s *sim) schedule(workers int) *Schedule {
	s.run()
	sch := &Schedule{Tasks: s.tasks, Priority: s.prio, CriticalPath: s.cp}
	for _, t := range s.tasks {
		sch.Makespan = max(sch.Makespan, t.Finish)
		sch.TotalWork += s.dur[t.Node]
	}
	sch.LowerBound = max(sch.CriticalPath, sch.TotalWork/float64(workers))
	return sch
}

type sim struct {
	g         *Graph
	c         *Components
	in        []bool
	dur       []float64
	prio      []float64
	cp        float64
	pending   []int32 // per component: unfinished dependency edges
	remaining []int32 // per component: unfinished members
	ready     minHeap[readyItem]
	running   minHeap[Task]
	free      []int32 // idle workers, next on top
	tasks     []Task
}

func newSim(g *Graph, c *Components, in []bool, dur []float64, workers int) *sim {
	s := &sim{g: g, c: c, in: in, dur: dur,
		pending: make([]int32, c.Len()), remaining: make([]int32, c.Len())}
	s.prio, s.cp = bottomLevels(g, c, in, dur)
	s.ready.less = func(a, b readyItem) bool {
		if a.prio != b.prio {
			return a.prio > b.prio
		}
		return a.v < b.v
	}
	s.running.less = func(a, b Task) bool {
		if a.Finish != b.Finish {
			return a.Finish < b.Finish
		}
		return a.Node < b.Node
	}
	for w := int32(workers) - 1; w >= 0; w-- {
		s.free = append(s.free, w)
	}
	return s
}

// readyItem carries its priority so that heap comparisons stay in cache.
type readyItem struct {
	prio float64
	v    int32
}

func (s *sim) inSet(v int32) bool { return s.in == nil || s.in[v] }

// run counts each component's pending dependency edges, releases the
// components without any, then advances from one finish time to the next.
func (s *sim) run() {
	for ci := range int32(s.c.Len()) {
		mem := s.c.Members(ci)
		if !s.inSet(mem[0]) {
			continue
		}
		s.remaining[ci] = int32(len(mem))
		s.forEachExternal(ci, true, func(int32) { s.pending[ci]++ })
	}
	for ci := range int32(s.c.Len()) {
		if s.remaining[ci] > 0 && s.pending[ci] == 0 {
			s.release(ci)
		}
	}
	now := 0.0
	for {
		s.startReady(now)
		if s.running.Len() == 0 {
			return
		}
		now = s.running.Top().Finish
		for s.running.Len() > 0 && s.running.Top().Finish == now {
			s.finish(s.running.Pop())
		}
	}
}

// forEachExternal calls fn with the component of every edge from a member
// of ci to a node in the set outside ci: its dependencies (deps=true) or
// its dependents.
func (s *sim) forEachExternal(ci int32, deps bool, fn func(other int32)) {
	for _, v := range s.c.Members(ci) {
		adj := s.g.Dependents(v)
		if deps {
			adj = s.g.Deps(v)
		}
		for _, w := range adj {
			if oc := s.c.Of[w]; oc != ci && s.inSet(w) {
				fn(oc)
			}
		}
	}
}

func (s *sim) release(ci int32) {
	for _, v := range s.c.Members(ci) {
		s.ready.Push(readyItem{s.prio[v], v})
	}
}

func (s *sim) startReady(now float64) {
	for len(s.free) > 0 && s.ready.Len() > 0 {
		v := s.ready.Pop().v
		w := s.free[len(s.free)-1]
		s.free = s.free[:len(s.free)-1]
		t := Task{Node: v, Worker: w, Start: now, Finish: now + s.dur[v]}
		s.tasks = append(s.tasks, t)
		s.running.Push(t)
	}
}

func (s *sim) finish(t Task) {
	s.free = append(s.free, t.Worker)
	ci := s.c.Of[t.Node]
	if s.remaining[ci]--; s.remaining[ci] > 0 {
		return
	}
	s.forEachExternal(ci, false, func(dc int32) {
		if s.pending[dc]--; s.pending[dc] == 0 {
			s.release(dc)
		}
	})
}

// bottomLevels returns each node's priority: its duration plus the longest
// chain of components that must wait for its component (a component's
// length is its longest member), and the critical path length. Component
// IDs are in build order, so walking them backwards visits dependents first.
func bottomLevels(g *Graph, c *Components, in []bool, dur []float64) ([]float64, float64) {
	prio := make([]float64, g.N())
	top := make([]float64, c.Len())
	cp := 0.0
	for ci := int32(c.Len()) - 1; ci >= 0; ci-- {
		mem := c.Members(ci)
		if in != nil && !in[mem[0]] {
			continue
		}
		tail, span := 0.0, 0.0
		for _, v := range mem {
			span = max(span, dur[v])
			for _, x := range g.Dependents(v) {
				if xc := c.Of[x]; xc != ci && (in == nil || in[x]) {
					tail = max(tail, top[xc])
				}
			}
		}
		for _, v := range mem {
			prio[v] = dur[v] + tail
		}
		top[ci] = span + tail
		cp = max(cp, top[ci])
	}
	return prio, cp
}

// releaseBound is a lower bound that also counts idle workers at the
// start: a node cannot start before its earliest start (the longest chain
// of components below it), so for every t, the makespan is at least
// t + (work of the nodes that cannot start before t) / workers.
func releaseBound(g *Graph, c *Components, in []bool, dur []float64, workers int) float64 {
	type job struct{ est, dur float64 }
	est := make([]float64, c.Len()) // earliest start per component
	span := componentSpans(c, in, dur)
	var jobs []job
	for ci := range int32(c.Len()) {
		mem := c.Members(ci)
		if in != nil && !in[mem[0]] {
			continue
		}
		for _, v := range mem {
			for _, d := range g.Deps(v) {
				if dc := c.Of[d]; dc != ci && (in == nil || in[d]) {
					est[ci] = max(est[ci], est[dc]+span[dc])
				}
			}
			jobs = append(jobs, job{est[ci], dur[v]})
		}
	}
	slices.SortFunc(jobs, func(a, b job) int { return cmp.Compare(b.est, a.est) })
	bound, work := 0.0, 0.0
	for _, j := range jobs {
		work += j.dur
		bound = max(bound, j.est+work/float64(workers))
	}
	return bound
}

// componentSpans is the duration of each component's longest member (0
// outside the set).
func componentSpans(c *Components, in []bool, dur []float64) []float64 {
	span := make([]float64, c.Len())
	for ci := range int32(c.Len()) {
		mem := c.Members(ci)
		if in != nil && !in[mem[0]] {
			continue
		}
		for _, v := range mem {
			span[ci] = max(span[ci], dur[v])
		}
	}
	return span
}

// levelBarrier simulates Koji chain-build style scheduling: the set is
// split into levels (levels computed inside the set, cycles collapsed) and
// a level starts only when the previous one is completely finished. Within
// a level, the longest builds go first, each to the worker free soonest.
func levelBarrier(g *Graph, c *Components, in []bool, dur []float64, workers int) float64 {
	lv := levelsIn(g, c, in)
	byLevel := make([][]int32, Depth(lv)+1)
	for v := range int32(g.N()) {
		if in == nil || in[v] {
			l := lv[c.Of[v]]
			byLevel[l] = append(byLevel[l], v)
		}
	}
	total := 0.0
	for _, nodes := range byLevel {
		total += levelSpan(nodes, dur, workers)
	}
	return total
}

// levelSpan is the makespan of independent builds on the workers with
// longest-processing-time-first list scheduling.
func levelSpan(nodes []int32, dur []float64, workers int) float64 {
	if len(nodes) <= workers {
		span := 0.0
		for _, v := range nodes {
			span = max(span, dur[v])
		}
		return span
	}
	slices.SortStableFunc(nodes, func(a, b int32) int {
		switch {
		case dur[a] > dur[b]:
			return -1
		case dur[a] < dur[b]:
			return 1
		}
		return 0
	})
	free := minHeap[float64]{items: make([]float64, workers), less: func(a, b float64) bool { return a < b }}
	span := 0.0
	for _, v := range nodes {
		t := free.Pop() + dur[v]
		span = max(span, t)
		free.Push(t)
	}
	return span
}

// Priorities returns each node's priority for list scheduling: its
// duration plus the longest chain of components that must wait for it.
func Priorities(g *Graph, c *Components, dur []float64) []float64 {
	prio, _ := bottomLevels(g, c, nil, dur)
	return prio
}
