package deb

import (
	"fmt"
	"io"
	"slices"

	"pault.ag/go/debian/control"
	"pault.ag/go/debian/dependency"
)

// BuildDepends reads the source paragraph of a debian/control file and
// returns the relations dpkg-buildpackage -b needs on arch with profiles
// active: Build-Depends, Build-Depends-Arch and Build-Depends-Indep, with
// alternatives whose architecture or build profile restrictions exclude
// the build dropped.
func BuildDepends(r io.Reader, arch string, profiles []string) ([]Relation, error) {
	pr, err := control.NewParagraphReader(r, nil)
	if err != nil {
		return nil, fmt.Errorf("debian/control: %w", err)
	}
	src, err := pr.Next()
	if err != nil {
		return nil, fmt.Errorf("debian/control: no source paragraph: %w", err)
	}
	if src.Values["Source"] == "" {
		return nil, fmt.Errorf("debian/control: the first paragraph has no Source field")
	}
	host, err := dependency.ParseArch(arch)
	if err != nil {
		return nil, err
	}
	var out []Relation
	for _, field := range []string{"Build-Depends", "Build-Depends-Arch", "Build-Depends-Indep"} {
		v := src.Values[field]
		if v == "" {
			continue
		}
		d, err := dependency.Parse(v)
		if err != nil {
			return nil, fmt.Errorf("debian/control: %s: %w", field, err)
		}
		out = append(out, applicable(d, host, profiles)...)
	}
	return out, nil
}

func applicable(d *dependency.Dependency, host *dependency.Arch, profiles []string) []Relation {
	var out []Relation
	for _, r := range d.Relations {
		var rel Relation
		for _, p := range r.Possibilities {
			if p.Substvar || (p.Architectures != nil && !p.Architectures.Matches(host)) || !profilesHold(p.StageSets, profiles) {
				continue
			}
			rel.Alternatives = append(rel.Alternatives, depOf(p))
		}
		if len(rel.Alternatives) > 0 {
			out = append(out, rel)
		}
	}
	return out
}

// profilesHold: any one restriction list (<a b> <c>) whose every term
// holds.
func profilesHold(sets []dependency.StageSet, active []string) bool {
	if len(sets) == 0 {
		return true
	}
	for _, set := range sets {
		ok := true
		for _, s := range set.Stages {
			if slices.Contains(active, s.Name) == s.Not {
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return false
}
