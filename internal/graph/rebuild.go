package graph

import "fmt"

// RebuildSet returns the changed nodes plus every node that depends on one
// of them directly or transitively, sorted by ID. The set is closed under
// reverse edges, so a strongly connected component is either wholly in it
// or wholly out.
func RebuildSet(g *Graph, changed []int32) []int32 {
	in := rebuildMask(g, changed)
	out := make([]int32, 0, len(changed))
	for v, ok := range in {
		if ok {
			out = append(out, int32(v))
		}
	}
	return out
}

// rebuildMask marks the rebuild set with a breadth-first walk over
// reverse-dependency edges.
func rebuildMask(g *Graph, changed []int32) []bool {
	in := make([]bool, g.N())
	queue := make([]int32, 0, 64)
	for _, v := range changed {
		if !in[v] {
			in[v] = true
			queue = append(queue, v)
		}
	}
	for i := 0; i < len(queue); i++ {
		for _, w := range g.Dependents(queue[i]) {
			if !in[w] {
				in[w] = true
				queue = append(queue, w)
			}
		}
	}
	return in
}

// IDs resolves names to node IDs. Unknown names are reported together.
func (g *Graph) IDs(names []string) ([]int32, error) {
	ids := make([]int32, 0, len(names))
	var unknown []string
	for _, n := range names {
		id, ok := g.ID(n)
		if !ok {
			unknown = append(unknown, n)
			continue
		}
		ids = append(ids, id)
	}
	if len(unknown) > 0 {
		return nil, &UnknownNodesError{Names: unknown}
	}
	return ids, nil
}

// UnknownNodesError lists names that are not nodes of the graph.
type UnknownNodesError struct{ Names []string }

func (e *UnknownNodesError) Error() string {
	if len(e.Names) == 1 {
		return fmt.Sprintf("unknown node %q: it is not in the edges file (names are case-sensitive)", e.Names[0])
	}
	return fmt.Sprintf("unknown nodes %q: they are not in the edges file (names are case-sensitive)", e.Names)
}
