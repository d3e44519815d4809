package deb

import (
	"strings"
)

// installStages numbers the install run of each entry (0 first) so that
// whatever an entry pre-depends on is configured in an earlier run, and
// whatever it depends on in the same run or an earlier one: dpkg --install
// unpacks a whole run before configuring it, and refuses to unpack a
// package whose Pre-Depends are not configured yet. Only entries of the
// set count (the base's packages are installed already). A Pre-Depends
// cycle, which the archive does not have, gives one run for everything.
func installStages(entries []*Entry) []int {
	edges := stageEdges(entries)
	stage := make([]int, len(entries))
	for range len(entries) + 1 {
		changed := false
		for _, e := range edges {
			if s := stage[e.to] + e.weight; s > stage[e.from] {
				stage[e.from], changed = s, true
			}
		}
		if !changed {
			return stage
		}
	}
	return make([]int, len(entries))
}

// stageEdge says entry from needs entry to: configured first (weight 1,
// Pre-Depends) or by the end of the same run (weight 0, Depends).
type stageEdge struct{ from, to, weight int }

func stageEdges(entries []*Entry) []stageEdge {
	byName := map[string][]int{}
	for i, e := range entries {
		byName[e.Name] = append(byName[e.Name], i)
		provides, _ := e.Provides()
		for _, p := range provides {
			byName[p.Name] = append(byName[p.Name], i)
		}
	}
	var edges []stageEdge
	for i, e := range entries {
		deps, _ := e.Depends()
		pre, _ := e.PreDepends()
		for w, rels := range [][]Relation{deps, pre} {
			for _, r := range rels {
				for _, a := range r.Alternatives {
					for _, j := range byName[a.Name] {
						if j != i {
							edges = append(edges, stageEdge{from: i, to: j, weight: w})
						}
					}
				}
			}
		}
	}
	return edges
}

// shellQuote quotes each word for /bin/sh and joins them with spaces.
func shellQuote(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
