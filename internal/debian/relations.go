package debian

import (
	"slices"
	"strconv"
	"strings"

	"pault.ag/go/debian/dependency"
)

// BuildDepends returns the build dependencies dpkg-buildpackage needs for a
// build of both architecture-dependent and -independent packages on host
// architecture arch (e.g. "amd64") with the build profiles profiles
// active (e.g. ["nocheck"]; none is the default): Build-Depends, then
// Build-Depends-Arch, then Build-Depends-Indep, in file order.
//
// An alternative whose architecture restriction ([amd64], [!hurd-any],
// [linux-any]) excludes arch, or whose build profile restriction
// (<!nocheck>, <stage1 cross>) is not met by profiles, is dropped; a
// relation with no alternative left is dropped. With arch empty,
// architecture restrictions are not evaluated (every alternative is kept).
// Substitution variables (${misc:Depends}) are dropped.
func (s *Source) BuildDepends(arch string, profiles []string) []Relation {
	var host *dependency.Arch
	if arch != "" {
		a, err := dependency.ParseArch(arch)
		if err == nil {
			host = a
		}
	}
	var out []Relation
	for _, f := range s.relations {
		out = append(out, relations(f, filter{host: host, profiles: profiles, evalProfiles: true})...)
	}
	return out
}

// filter says which alternatives apply: host nil keeps every architecture
// restriction, evalProfiles false every profile restriction.
type filter struct {
	host         *dependency.Arch
	profiles     []string
	evalProfiles bool
}

// relations converts one parsed field, keeping the alternatives that pass
// the filter.
func relations(f fieldRelations, keep filter) []Relation {
	var out []Relation
	for i, r := range f.dep.Relations {
		rel := Relation{Field: f.name, Line: f.line}
		if i < len(f.lines) {
			rel.Line = f.lines[i]
		}
		for _, p := range r.Possibilities {
			if p.Substvar || !archApplies(p, keep.host) || (keep.evalProfiles && !profilesApply(p.StageSets, keep.profiles)) {
				continue
			}
			rel.Alternatives = append(rel.Alternatives, toDep(p))
		}
		if len(rel.Alternatives) > 0 {
			out = append(out, rel)
		}
	}
	return out
}

// archApplies evaluates an architecture restriction list.
func archApplies(p dependency.Possibility, host *dependency.Arch) bool {
	if host == nil || p.Architectures == nil {
		return true
	}
	return p.Architectures.Matches(host)
}

// profilesApply evaluates a restriction formula: a list of <...> groups,
// any of which must hold; every term of a group must hold (a term "name"
// holds when the profile is active, "!name" when it is not). No groups
// means the relation always applies.
func profilesApply(sets []dependency.StageSet, active []string) bool {
	if len(sets) == 0 {
		return true
	}
	for _, set := range sets {
		if groupHolds(set, active) {
			return true
		}
	}
	return false
}

// groupHolds evaluates one <...> group.
func groupHolds(set dependency.StageSet, active []string) bool {
	for _, term := range set.Stages {
		if slices.Contains(active, term.Name) == term.Not {
			return false
		}
	}
	return true
}

// toDep converts one parsed alternative.
func toDep(p dependency.Possibility) Dep {
	d := Dep{Name: p.Name}
	if p.Version != nil {
		d.Op, d.Version = p.Version.Operator, p.Version.Number
	}
	if p.Arch != nil {
		d.ArchQualifier = p.Arch.String()
	}
	return d
}

// DroppedBy returns the build dependencies that activating the build
// profile profile drops, on architecture arch with the profiles active
// already active: those restricted to its absence, e.g. "libb-dev
// <!stage1>" for "stage1". A relation that loses some of its alternatives
// counts as dropped.
func (s *Source) DroppedBy(arch string, active []string, profile string) []Relation {
	with := map[string]bool{}
	for _, r := range s.BuildDepends(arch, append(slices.Clip(active), profile)) {
		with[r.key()] = true
	}
	var out []Relation
	for _, r := range s.BuildDepends(arch, active) {
		if !with[r.key()] {
			out = append(out, r)
		}
	}
	return out
}

// key identifies a relation within its control file.
func (r Relation) key() string {
	k := r.Field + ":" + strconv.Itoa(r.Line)
	for _, d := range r.Alternatives {
		k += "|" + d.String()
	}
	return k
}

// String formats the relation as written in a control file, without its
// restrictions.
func (r Relation) String() string {
	alts := make([]string, len(r.Alternatives))
	for i, d := range r.Alternatives {
		alts[i] = d.String()
	}
	return strings.Join(alts, " | ")
}
