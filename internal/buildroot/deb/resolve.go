package deb

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"pault.ag/go/debian/version"
)

// Universe is every package a build's dependencies may come from.
type Universe struct {
	// Arch is the build's architecture (e.g. amd64); packages of other
	// architectures than Arch and "all" are ignored.
	Arch string
	// Members are the group members' packages: preferred over everything.
	Members []*Entry
	// Installed are the base's installed packages: used as they are.
	Installed []*Entry
	// Archive is the archive's index: what the base does not have.
	Archive []*Entry
}

// Unresolvable is a build dependency nothing satisfies: no group member,
// the base or the archive has a package (or a provider) of a suitable
// version. The build cannot start.
type Unresolvable struct {
	// Relation is the dependency as written, e.g. "libfoo-dev (>= 2)".
	Relation string
	// Chain is how the build came to need it: the build dependencies
	// and packages that pulled it in, outermost first.
	Chain []string
	// Why explains what was found instead.
	Why string
}

func (e *Unresolvable) Error() string {
	s := "unresolvable build dependency " + e.Relation
	if len(e.Chain) > 0 {
		s += " (needed by " + strings.Join(e.Chain, " <- ") + ")"
	}
	return s + ": " + e.Why
}

// Missing names the first package of the unresolvable relation.
func (e *Unresolvable) Missing() string {
	name, _, _ := strings.Cut(e.Relation, " ")
	return name
}

type pending struct {
	rel   Relation
	chain []string
}

// resolver holds the state of one resolution.
type resolver struct {
	u        *Universe
	byName   map[string][]*Entry // members first, then archive by version (newest first)
	provides map[string][]*Entry
	base     map[string]*Entry
	chosen   map[string]*Entry
	order    []*Entry
	nMembers map[string]int // per name, how many byName entries are members'
}

// Resolve returns the packages to install into the base so that every
// relation in reqs, and every Pre-Depends and Depends of what it
// installs, is satisfied. The result is sorted by name. A relation
// nothing satisfies is an *Unresolvable error.
func (u *Universe) Resolve(reqs []Relation) ([]*Entry, error) {
	r := u.newResolver()
	queue := make([]pending, 0, len(reqs))
	for _, rel := range reqs {
		queue = append(queue, pending{rel: rel, chain: []string{"Build-Depends"}})
	}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		e, err := r.satisfy(p)
		if err != nil || e == nil {
			if err != nil {
				return nil, err
			}
			continue
		}
		deps, err := e.Depends()
		if err != nil {
			return nil, err
		}
		for _, d := range deps {
			queue = append(queue, pending{rel: d, chain: append(slices.Clone(p.chain), e.Name)})
		}
	}
	out := slices.Clone(r.order)
	slices.SortFunc(out, func(a, b *Entry) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (u *Universe) newResolver() *resolver {
	r := &resolver{u: u, byName: map[string][]*Entry{}, provides: map[string][]*Entry{}, base: map[string]*Entry{}, chosen: map[string]*Entry{}}
	for _, e := range u.Installed {
		if e.Status == "" || strings.HasSuffix(e.Status, " installed") {
			r.base[e.Name] = e
		}
	}
	for i, set := range [][]*Entry{u.Members, u.Archive} {
		for _, e := range set {
			if e.Arch != "" && e.Arch != "all" && u.Arch != "" && e.Arch != u.Arch {
				continue
			}
			r.byName[e.Name] = append(r.byName[e.Name], e)
			prov, _ := e.Provides()
			for _, p := range prov {
				r.provides[p.Name] = append(r.provides[p.Name], e)
			}
		}
		if i == 0 {
			r.nMembers = maps.Clone(countByName(r.byName))
		}
	}
	for name, es := range r.byName {
		if len(es) > r.nMembers[name]+1 { // the archive's versions, newest first
			slices.SortStableFunc(es[r.nMembers[name]:], func(a, b *Entry) int { return -compareVersions(a.Version, b.Version) })
		}
	}
	return r
}

func countByName(m map[string][]*Entry) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = len(v)
	}
	return out
}

// satisfy makes sure p's relation holds, choosing a package if needed;
// it returns the package newly chosen (nil when nothing was added).
func (r *resolver) satisfy(p pending) (*Entry, error) {
	if e := r.memberFor(p.rel); e != nil {
		if r.chosen[e.Name] == e {
			return nil, nil
		}
		return r.choose(e, p)
	}
	if r.holds(p.rel) {
		return nil, nil
	}
	for _, d := range p.rel.Alternatives {
		if e := r.candidate(d, false); e != nil {
			return r.choose(e, p)
		}
	}
	return nil, &Unresolvable{Relation: p.rel.String(), Chain: p.chain, Why: r.why(p.rel)}
}

// memberFor is a group member's package satisfying rel, if any: a
// package the group builds always comes from the group.
func (r *resolver) memberFor(rel Relation) *Entry {
	for _, d := range rel.Alternatives {
		if e := r.candidate(d, true); e != nil {
			return e
		}
	}
	return nil
}

func (r *resolver) choose(e *Entry, p pending) (*Entry, error) {
	if prev, ok := r.chosen[e.Name]; ok && prev != e {
		return nil, &Unresolvable{Relation: p.rel.String(), Chain: p.chain,
			Why: fmt.Sprintf("it needs %s %s, but %s %s is already chosen", e.Name, e.Version, prev.Name, prev.Version)}
	}
	r.chosen[e.Name] = e
	r.order = append(r.order, e)
	return e, nil
}

// holds reports whether a chosen or installed package satisfies rel.
func (r *resolver) holds(rel Relation) bool {
	for _, d := range rel.Alternatives {
		if e, ok := r.chosen[d.Name]; ok && satisfies(e.Version, d) {
			return true
		}
		if _, replaced := r.chosen[d.Name]; !replaced {
			if e, ok := r.base[d.Name]; ok && satisfies(e.Version, d) {
				return true
			}
		}
		if r.providedBy(d, r.chosenList()) || r.providedBy(d, r.baseList()) {
			return true
		}
	}
	return false
}

func (r *resolver) chosenList() []*Entry { return r.order }

func (r *resolver) baseList() []*Entry {
	out := make([]*Entry, 0, len(r.base))
	for _, e := range r.u.Installed {
		if r.base[e.Name] == e {
			out = append(out, e)
		}
	}
	return out
}

func (r *resolver) providedBy(d Dep, set []*Entry) bool {
	for _, e := range set {
		prov, _ := e.Provides()
		for _, p := range prov {
			if p.Name == d.Name && providesVersion(p, d) {
				return true
			}
		}
	}
	return false
}

// candidate is the best package for d: a real package of a suitable
// version (members first, then the newest in the archive), else a
// provider. membersOnly restricts it to group members.
func (r *resolver) candidate(d Dep, membersOnly bool) *Entry {
	for _, e := range r.byName[d.Name] {
		if (!membersOnly || e.Path != "") && satisfies(e.Version, d) {
			return e
		}
	}
	for _, e := range r.provides[d.Name] {
		if !membersOnly || e.Path != "" {
			prov, _ := e.Provides()
			for _, p := range prov {
				if p.Name == d.Name && providesVersion(p, d) {
					return e
				}
			}
		}
	}
	return nil
}

// why says what exists of rel's packages, for the error.
func (r *resolver) why(rel Relation) string {
	var found []string
	for _, d := range rel.Alternatives {
		for _, e := range r.byName[d.Name] {
			found = append(found, e.Name+" "+e.Version+" ("+e.origin()+")")
		}
		if e, ok := r.base[d.Name]; ok {
			found = append(found, e.Name+" "+e.Version+" (base)")
		}
	}
	if len(found) == 0 {
		return "no package of that name in the group, the base or the archive, and nothing provides it"
	}
	return "no suitable version: found " + strings.Join(found, ", ")
}

func (e *Entry) origin() string {
	if e.Path != "" {
		return "group member " + e.Component
	}
	return "archive"
}

func satisfies(v string, d Dep) bool {
	if d.Op == "" {
		return true
	}
	c := compareVersions(v, d.Version)
	switch d.Op {
	case "<<", "<":
		return c < 0
	case "<=":
		return c <= 0
	case "=":
		return c == 0
	case ">=":
		return c >= 0
	case ">>", ">":
		return c > 0
	}
	return false
}

// providesVersion: an unversioned Provides satisfies only unversioned
// dependencies (Debian policy 7.5).
func providesVersion(p Dep, d Dep) bool {
	if d.Op == "" {
		return true
	}
	return p.Op == "=" && satisfies(p.Version, d)
}

func compareVersions(a, b string) int {
	va, errA := version.Parse(a)
	vb, errB := version.Parse(b)
	if err := errors.Join(errA, errB); err != nil {
		return strings.Compare(a, b)
	}
	return version.Compare(va, vb)
}
