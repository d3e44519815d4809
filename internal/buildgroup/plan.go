// Package buildgroup is the live group planner, its decisions free of I/O:
// Plan picks a group's members and their order from the component graph;
// Advance moves members along as their builds finish and says which builds
// to start. The controller (controller.go) reads the world, calls these,
// and applies the result.
package buildgroup

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/graph"
)

// Node is one component of the graph.
type Node struct {
	Name string
	// Deps are the components it requires (resolved capabilities).
	Deps []string
	// Missing are requirements nothing provides.
	Missing []string
	// Rebuild is its spec.build.rebuild policy (empty: transitive).
	Rebuild string
	// Seconds is its expected build duration (from history).
	Seconds float64
	// Bootstrap is set when it has spec.build.bootstrap params: in a
	// cycle's first pass it can build without the members it requires.
	Bootstrap bool
}

// Graph is the component graph of one application or namespace.
type Graph map[string]*Node

// dependants returns the reverse edges, sorted.
func (g Graph) dependants() map[string][]string {
	out := map[string][]string{}
	for _, n := range g {
		for _, d := range n.Deps {
			out[d] = append(out[d], n.Name)
		}
	}
	for k := range out {
		sort.Strings(out[k])
	}
	return out
}

// Members returns the components a change to requested rebuilds: each
// requested component plus its dependants as its rebuild policy says
// (transitive: all, direct: direct ones, local/none: nothing).
func (g Graph) Members(requested []string) ([]string, error) {
	rdeps := g.dependants()
	in, queued := map[string]bool{}, map[string]bool{}
	var queue []string
	for _, r := range requested {
		n, ok := g[r]
		if !ok {
			return nil, fmt.Errorf("component %q is not in the graph", r)
		}
		in[r] = true
		switch n.Rebuild {
		case v1alpha1.RebuildLocal, v1alpha1.RebuildNone:
		case v1alpha1.RebuildDirect:
			for _, d := range rdeps[r] {
				in[d] = true
			}
		default:
			queue, queued[r] = append(queue, r), true
		}
	}
	for i := 0; i < len(queue); i++ {
		for _, d := range rdeps[queue[i]] {
			if !queued[d] {
				in[d], queued[d] = true, true
				queue = append(queue, d)
			}
		}
	}
	out := make([]string, 0, len(in))
	for n := range in {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// Plan returns the group's members, in build order (dependencies first,
// then longest remaining chain first), with their cycles.
func Plan(g Graph, requested []string) ([]v1alpha1.GroupMember, []v1alpha1.GroupCycle, error) {
	names, err := g.Members(requested)
	if err != nil {
		return nil, nil, err
	}
	member := map[string]bool{}
	for _, n := range names {
		member[n] = true
	}
	sub := subgraph(g, member)
	comps := graph.SCC(sub)
	prio := graph.Priorities(sub, comps, graph.DurationsOf(sub, seconds(g, names)))
	req := map[string]bool{}
	for _, r := range requested {
		req[r] = true
	}
	cycles, cycleOf := describeCycles(sub, comps)
	members := make([]v1alpha1.GroupMember, 0, len(names))
	for _, name := range names {
		id, _ := sub.ID(name)
		m := v1alpha1.GroupMember{Component: name, State: v1alpha1.MemberQueued, Requested: req[name],
			Priority: round(prio[id]), Cycle: cycleOf[name]}
		if m.Cycle > 0 {
			m.Pass = 1
		}
		for _, d := range g[name].Deps {
			if member[d] {
				m.DependsOn = append(m.DependsOn, d)
			}
		}
		if miss := g[name].Missing; len(miss) > 0 {
			m.State = v1alpha1.MemberUnresolvable
			m.Message = "nothing provides " + strings.Join(miss, ", ")
		}
		members = append(members, m)
	}
	order(members, sub, comps)
	orderCycles(members, g, len(cycles))
	return members, cycles, nil
}

// orderCycles puts the members of each cycle that has a member with
// bootstrap params in an order its first pass can build without any
// artifact: each member after the cycle members it requires, except that
// a member with bootstrap params may come first (its bootstrap build
// leaves them out). Other cycles keep the priority order; every member
// keeps its cycle's slots in the list.
func orderCycles(members []v1alpha1.GroupMember, g Graph, cycles int) {
	for c := 1; c <= cycles; c++ {
		var slots []int
		boot := false
		for i, m := range members {
			if m.Cycle == c {
				slots = append(slots, i)
				boot = boot || g[m.Component].Bootstrap
			}
		}
		if boot {
			reorderCycle(members, slots, g)
		}
	}
}

// reorderCycle orders the members at slots (one cycle) topologically over
// the cycle's edges but those of bootstrap members: the first ready member
// in the priority order goes next, or, when none is ready (a sub-cycle
// without a bootstrap member), the first not placed yet.
func reorderCycle(members []v1alpha1.GroupMember, slots []int, g Graph) {
	cur := make([]v1alpha1.GroupMember, len(slots))
	in := map[string]bool{}
	for i, s := range slots {
		cur[i] = members[s]
		in[cur[i].Component] = true
	}
	placed := map[string]bool{}
	ready := func(m v1alpha1.GroupMember) bool {
		if g[m.Component].Bootstrap {
			return true
		}
		for _, d := range m.DependsOn {
			if in[d] && !placed[d] {
				return false
			}
		}
		return true
	}
	for _, s := range slots {
		i := nextPlaced(cur, placed, ready)
		members[s] = cur[i]
		placed[cur[i].Component] = true
	}
}

// nextPlaced is the index in cur of the first ready member not placed,
// else of the first not placed.
func nextPlaced(cur []v1alpha1.GroupMember, placed map[string]bool, ready func(v1alpha1.GroupMember) bool) int {
	first := -1
	for i, m := range cur {
		if placed[m.Component] {
			continue
		}
		if ready(m) {
			return i
		}
		if first < 0 {
			first = i
		}
	}
	return first
}

// subgraph is the graph of the members; every member is a node, also one
// without edges (a self-loop, which Build drops, keeps it).
func subgraph(g Graph, member map[string]bool) *graph.Graph {
	var edges []graph.Edge
	for name := range member {
		edges = append(edges, graph.Edge{Dependent: name, Dependency: name})
		for _, d := range g[name].Deps {
			if member[d] {
				edges = append(edges, graph.Edge{Dependent: name, Dependency: d})
			}
		}
	}
	return graph.Build(edges)
}

func seconds(g Graph, names []string) map[string]float64 {
	out := make(map[string]float64, len(names))
	for _, n := range names {
		if s := g[n].Seconds; s > 0 {
			out[n] = max(s, 1) // whole seconds keep priorities topological after rounding
		}
	}
	return out
}

// describeCycles lists the cycles (strongly connected sets of more than
// one member) and numbers each member's cycle from 1.
func describeCycles(sub *graph.Graph, comps *graph.Components) ([]v1alpha1.GroupCycle, map[string]int) {
	var cycles []v1alpha1.GroupCycle
	of := map[string]int{}
	for _, ci := range comps.Cycles() {
		var names []string
		for _, v := range comps.Members(ci) {
			names = append(names, sub.Name(v))
		}
		sort.Strings(names)
		path := graph.FormatPath(sub, graph.CyclePath(sub, comps, ci))
		cycles = append(cycles, v1alpha1.GroupCycle{Members: names, Path: path})
		for _, n := range names {
			of[n] = len(cycles)
		}
	}
	return cycles, of
}

// order sorts members by priority (longest remaining chain first), then by
// strongly connected component, then by name. Durations are positive, so a
// dependency's priority exceeds its dependants': the order is topological.
func order(members []v1alpha1.GroupMember, sub *graph.Graph, comps *graph.Components) {
	comp := func(name string) int32 {
		id, _ := sub.ID(name)
		return comps.Of[id]
	}
	sort.SliceStable(members, func(i, j int) bool {
		if members[i].Priority != members[j].Priority {
			return members[i].Priority > members[j].Priority
		}
		if ci, cj := comp(members[i].Component), comp(members[j].Component); ci != cj {
			return ci < cj
		}
		return members[i].Component < members[j].Component
	})
}

func round(x float64) float64 { return float64(int64(x*10+0.5)) / 10 }
