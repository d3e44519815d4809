package graph

import (
	"slices"
	"strings"
)

// Components is the partition of a graph into strongly connected
// components. Component IDs are in build order: every dependency of a
// component belongs to a component with a smaller ID. Within a component,
// members are sorted by node ID (name).
type Components struct {
	Of      []int32 // node ID → component ID
	off     []int32 // members of c: members[off[c]:off[c+1]]
	members []int32
}

// Len is the number of components.
func (c *Components) Len() int { return len(c.off) - 1 }

// Members returns the nodes of component ci, sorted. Do not modify it.
func (c *Components) Members(ci int32) []int32 { return c.members[c.off[ci]:c.off[ci+1]] }

// Size is the number of members of component ci.
func (c *Components) Size(ci int32) int { return int(c.off[ci+1] - c.off[ci]) }

// Cycles returns the components with more than one member, largest first,
// ties by their first member's name.
func (c *Components) Cycles() []int32 {
	var out []int32
	for ci := range int32(c.Len()) {
		if c.Size(ci) > 1 {
			out = append(out, ci)
		}
	}
	slices.SortFunc(out, func(a, b int32) int {
		if d := c.Size(b) - c.Size(a); d != 0 {
			return d
		}
		return int(c.Members(a)[0] - c.Members(b)[0])
	})
	return out
}

// tarjan is the state of an iterative Tarjan walk over dependency edges.
type tarjan struct {
	g       *Graph
	index   []int32 // 0 = not visited yet
	low     []int32
	onStack []bool
	stack   []int32
	frames  []frame
	comp    []int32
	nComp   int32
	next    int32
}

type frame struct{ v, e int32 } // node, position of its next edge

// SCC computes the strongly connected components with an iterative Tarjan
// walk (no recursion, so cycles of any length are fine). Roots are taken in
// ID order and edges in sorted order, so the result is deterministic.
func SCC(g *Graph) *Components {
	n := g.N()
	t := &tarjan{g: g, index: make([]int32, n), low: make([]int32, n),
		onStack: make([]bool, n), comp: make([]int32, n)}
	for v := range int32(n) {
		if t.index[v] == 0 {
			t.walk(v)
		}
	}
	return groupMembers(t.comp, int(t.nComp))
}

func (t *tarjan) visit(v int32) {
	t.next++
	t.index[v], t.low[v] = t.next, t.next
	t.stack = append(t.stack, v)
	t.onStack[v] = true
	t.frames = append(t.frames, frame{v, t.g.depOff[v]})
}

func (t *tarjan) walk(root int32) {
	t.visit(root)
	for len(t.frames) > 0 {
		f := &t.frames[len(t.frames)-1]
		v := f.v
		if f.e < t.g.depOff[v+1] {
			w := t.g.deps[f.e]
			f.e++
			if t.index[w] == 0 {
				t.visit(w)
			} else if t.onStack[w] {
				t.low[v] = min(t.low[v], t.index[w])
			}
			continue
		}
		t.frames = t.frames[:len(t.frames)-1]
		if t.low[v] == t.index[v] {
			t.emit(v)
		}
		if k := len(t.frames); k > 0 {
			p := t.frames[k-1].v
			t.low[p] = min(t.low[p], t.low[v])
		}
	}
}

// emit pops the component rooted at v off the stack.
func (t *tarjan) emit(v int32) {
	for {
		w := t.stack[len(t.stack)-1]
		t.stack = t.stack[:len(t.stack)-1]
		t.onStack[w] = false
		t.comp[w] = t.nComp
		if w == v {
			break
		}
	}
	t.nComp++
}

// groupMembers builds the member lists; visiting nodes in ID order keeps
// each list sorted.
func groupMembers(of []int32, k int) *Components {
	off := make([]int32, k+1)
	for _, c := range of {
		off[c+1]++
	}
	for c := range k {
		off[c+1] += off[c]
	}
	members := make([]int32, len(of))
	next := slices.Clone(off[:k])
	for v, c := range of {
		members[next[c]] = int32(v)
		next[c]++
	}
	return &Components{Of: of, off: off, members: members}
}

// CyclePath returns a shortest simple cycle through the first member of
// component ci, as node IDs with the first repeated at the end
// (a, b, c, a: a depends on b, b on c, c on a). It is nil for a component
// of one member.
func CyclePath(g *Graph, c *Components, ci int32) []int32 {
	mem := c.Members(ci)
	if len(mem) < 2 {
		return nil
	}
	s := mem[0]
	parent := make([]int32, len(mem)) // by position in mem; -1 = unseen
	for i := range parent {
		parent[i] = -1
	}
	queue := []int32{s}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		for _, w := range g.Deps(u) {
			if c.Of[w] != ci {
				continue
			}
			if w == s {
				return tracePath(mem, parent, s, u)
			}
			if i, _ := slices.BinarySearch(mem, w); parent[i] < 0 && w != s {
				parent[i] = u
				queue = append(queue, w)
			}
		}
	}
	return nil // unreachable for a real component
}

// tracePath follows parents back from u to s and returns s … u s.
func tracePath(mem, parent []int32, s, u int32) []int32 {
	path := []int32{s}
	for v := u; v != s; {
		path = append(path, v)
		i, _ := slices.BinarySearch(mem, v)
		v = parent[i]
	}
	slices.Reverse(path[1:])
	return append(path, s)
}

// FormatPath joins the names of a path with " -> ".
func FormatPath(g *Graph, path []int32) string {
	return strings.Join(PathNames(g, path), " -> ")
}

// PathNames returns the names of the nodes of a path.
func PathNames(g *Graph, path []int32) []string {
	out := make([]string, len(path))
	for i, v := range path {
		out[i] = g.Name(v)
	}
	return out
}

// Cycles returns the members of every strongly connected component with
// more than one member, largest first (see Components.Cycles).
func (g *Graph) Cycles() [][]string {
	c := SCC(g)
	var out [][]string
	for _, ci := range c.Cycles() {
		out = append(out, PathNames(g, c.Members(ci)))
	}
	return out
}
