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
	return members, cycles, nil
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
