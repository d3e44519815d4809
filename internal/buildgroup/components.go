package buildgroup

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/capability"
)

// Resolved is the component graph with what resolution found.
type Resolved struct {
	Graph Graph
	// External are detected requirements no component provides, by
	// component: met outside Kiln (the build image), not blocking.
	External map[string][]string
	// Ambiguous capabilities and the provider chosen.
	Ambiguous []capability.Ambiguous
}

// GraphOf resolves the components' capabilities (detected, in
// status.capabilities, plus declared in spec.build) into a graph. A
// declared requirement nothing provides makes its component unresolvable;
// a detected one is taken as met outside Kiln. seconds gives expected
// build durations (may be nil).
func GraphOf(comps []*v1alpha1.Component, seconds map[string]float64) (*Resolved, error) {
	sets := map[string]*capability.Set{}
	declared := map[string]capability.Declared{}
	out := &Resolved{Graph: Graph{}, External: map[string][]string{}}
	for _, c := range comps {
		sets[c.Name] = setOf(c.Status.Capabilities)
		var d capability.Declared
		if b := c.Spec.Build; b != nil {
			d = capability.Declared{Provides: b.Provides, Requires: b.Requires}
		}
		declared[c.Name] = d
		n := &Node{Name: c.Name, Seconds: seconds[c.Name]}
		if b := c.Spec.Build; b != nil {
			n.Rebuild, n.Bootstrap = b.Rebuild, b.Bootstrap != nil && len(b.Bootstrap.Params) > 0
		}
		out.Graph[c.Name] = n
	}
	res, err := capability.Resolve(sets, declared)
	if err != nil {
		return nil, err
	}
	for name, deps := range res.Deps {
		if n := out.Graph[name]; n != nil {
			n.Deps = deps
		}
	}
	for _, u := range res.Unresolvable {
		what := strings.Join(u.Requirement.Any, " | ")
		if u.Requirement.Source == capability.DeclaredSource {
			out.Graph[u.Component].Missing = append(out.Graph[u.Component].Missing, what)
		} else if !u.Requirement.Optional {
			out.External[u.Component] = append(out.External[u.Component], what)
		}
	}
	out.Ambiguous = res.Ambiguous
	return out, nil
}

// setOf turns recorded capabilities into a capability set.
func setOf(c *v1alpha1.Capabilities) *capability.Set {
	s := &capability.Set{}
	if c == nil {
		return s
	}
	for _, p := range c.Provides {
		s.Provides = append(s.Provides, capability.Provide{Name: p})
	}
	for _, r := range c.Requires {
		s.BuildRequires = append(s.BuildRequires, capability.Requirement{Any: strings.Split(r, "|"), Source: "source"})
	}
	return s
}

// Describe lists the graph for people: one line per component with what
// it needs, then cycles.
func (r *Resolved) Describe() []string {
	names := make([]string, 0, len(r.Graph))
	for n := range r.Graph {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []string
	for _, n := range names {
		node := r.Graph[n]
		line := n + " <- " + orNone(node.Deps)
		if len(node.Missing) > 0 {
			line += fmt.Sprintf("  UNRESOLVABLE: nothing provides %s", strings.Join(node.Missing, ", "))
		}
		out = append(out, line)
	}
	return out
}

func orNone(list []string) string {
	if len(list) == 0 {
		return "(nothing)"
	}
	return strings.Join(list, ", ")
}
