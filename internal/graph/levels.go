package graph

// Levels returns the level of every component of the condensation (the
// graph with each strongly connected component collapsed to one node):
// 1 + the highest level among the components it depends on; components
// without dependencies are at level 1. Indexed by component ID.
func Levels(g *Graph, c *Components) []int32 {
	return levelsIn(g, c, nil)
}

// Depth is the number of levels: the highest level, 0 for an empty graph.
func Depth(levels []int32) int {
	d := int32(0)
	for _, l := range levels {
		d = max(d, l)
	}
	return int(d)
}

// levelsIn computes levels counting only dependencies inside the set
// (in[v]); nil means every node. Components outside the set get level 0.
// Component IDs are in build order, so one pass suffices.
func levelsIn(g *Graph, c *Components, in []bool) []int32 {
	lv := make([]int32, c.Len())
	for ci := range int32(c.Len()) {
		mem := c.Members(ci)
		if in != nil && !in[mem[0]] {
			continue
		}
		l := int32(0)
		for _, v := range mem {
			for _, d := range g.Deps(v) {
				if dc := c.Of[d]; dc != ci {
					l = max(l, lv[dc])
				}
			}
		}
		lv[ci] = l + 1
	}
	return lv
}
