// Package deb resolves the build dependencies of a Debian source package
// into an exact set of .deb files and says how to install them: the
// Debian Format of internal/buildroot.
//
// Packages come from three places, in this order of preference: the
// .debs of the build's group members (the artifacts the planner pinned),
// the base buildroot's installed packages (its dpkg status), and the
// archive's Packages index that the base was bootstrapped with (kept in
// the base at /var/lib/apt/lists, verified by debootstrap against the
// archive's signed Release). Archive packages are pinned by version and
// SHA-256.
package deb

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"pault.ag/go/debian/dependency"
)

// Entry is one binary package that can satisfy a dependency.
type Entry struct {
	Name, Version, Arch string
	// Filename is the archive path (pool/…); SHA256 the file's hex digest.
	Filename, SHA256 string
	// URL is the archive URL of the file (archive packages).
	URL string
	// Path, Component and Artifact locate a group member's file.
	Path, Component, Artifact string
	// Status is the dpkg status ("install ok installed") of base packages.
	Status string

	depends, provides string // raw fields, parsed when needed
	preDepends        string // raw Pre-Depends (also in depends)
	parsed            *parsedRels
}

type parsedRels struct {
	depends  []Relation
	provides []Dep
}

// Dep is one alternative of a relation (as in internal/debian).
type Dep struct {
	Name string
	// Op is "<<", "<=", "=", ">=" or ">>" (empty: any version).
	Op, Version string
	// ArchQualifier is the Multi-Arch qualifier after ':' ("any",
	// "native", …).
	ArchQualifier string
}

// String formats the dependency as written in a control file.
func (d Dep) String() string {
	s := d.Name
	if d.ArchQualifier != "" {
		s += ":" + d.ArchQualifier
	}
	if d.Op != "" {
		s += " (" + d.Op + " " + d.Version + ")"
	}
	return s
}

// Relation is satisfied by any one of its alternatives.
type Relation struct {
	Alternatives []Dep
}

// String formats the relation as written in a control file.
func (r Relation) String() string {
	parts := make([]string, len(r.Alternatives))
	for i, d := range r.Alternatives {
		parts[i] = d.String()
	}
	return strings.Join(parts, " | ")
}

// ReadIndex reads an archive Packages index (or a dpkg status file).
// mirror, when set, is the archive URL its Filename fields are relative
// to. Only the fields resolution uses are kept; a bookworm main index
// (63,000 packages, 10 MB) reads in well under a second, where a general
// deb822 reader keeping every field of every paragraph takes seconds.
func ReadIndex(r io.Reader, mirror string) ([]*Entry, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	var out []*Entry
	p := &indexParagraph{fields: map[string]string{}}
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			if err := p.flush(&out, mirror); err != nil {
				return nil, err
			}
			continue
		}
		if err := p.add(line, n); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the index: %w", err)
	}
	return out, p.flush(&out, mirror)
}

// indexFields are the fields ReadIndex keeps.
var indexFields = map[string]bool{"Package": true, "Version": true, "Architecture": true, "Filename": true,
	"SHA256": true, "Status": true, "Depends": true, "Pre-Depends": true, "Provides": true}

// indexParagraph is the paragraph being read.
type indexParagraph struct {
	fields map[string]string
	last   string // the field a continuation line extends; "" for one not kept
	lines  int
}

func (p *indexParagraph) add(line string, n int) error {
	p.lines++
	if line[0] == ' ' || line[0] == '\t' {
		if p.last != "" {
			p.fields[p.last] += " " + strings.TrimSpace(line)
		}
		return nil
	}
	key, value, ok := strings.Cut(line, ":")
	if !ok {
		return fmt.Errorf("line %d of the index: %q is not a field", n, line)
	}
	p.last = ""
	if indexFields[key] {
		p.fields[key], p.last = strings.TrimSpace(value), key
	}
	return nil
}

func (p *indexParagraph) flush(out *[]*Entry, mirror string) error {
	if p.lines == 0 {
		return nil
	}
	e := entryOf(p.fields)
	if e.Name == "" || e.Version == "" {
		return fmt.Errorf("package %d of the index has no Package or Version field", len(*out)+1)
	}
	if mirror != "" && e.Filename != "" {
		e.URL = strings.TrimSuffix(mirror, "/") + "/" + e.Filename
	}
	*out = append(*out, e)
	clear(p.fields)
	p.last, p.lines = "", 0
	return nil
}

// Depends are the entry's Pre-Depends and Depends.
func (e *Entry) Depends() ([]Relation, error) {
	if e.parsed == nil {
		e.parsed = &parsedRels{}
	}
	if e.parsed.depends == nil && e.depends != "" {
		deps, err := ParseRelations(e.depends)
		if err != nil {
			return nil, fmt.Errorf("%s %s: Depends: %w", e.Name, e.Version, err)
		}
		e.parsed.depends = deps
	}
	return e.parsed.depends, nil
}

// PreDepends are the entry's Pre-Depends alone: what must be configured
// before it is unpacked.
func (e *Entry) PreDepends() ([]Relation, error) {
	if e.preDepends == "" {
		return nil, nil
	}
	rels, err := ParseRelations(e.preDepends)
	if err != nil {
		return nil, fmt.Errorf("%s %s: Pre-Depends: %w", e.Name, e.Version, err)
	}
	return rels, nil
}

// Provides are the entry's Provides (virtual packages, maybe versioned).
func (e *Entry) Provides() ([]Dep, error) {
	if e.parsed == nil {
		e.parsed = &parsedRels{}
	}
	if e.parsed.provides == nil && e.provides != "" {
		prov, err := ParseRelations(e.provides)
		if err != nil {
			return nil, fmt.Errorf("%s %s: Provides: %w", e.Name, e.Version, err)
		}
		e.parsed.provides = []Dep{}
		for _, r := range prov {
			e.parsed.provides = append(e.parsed.provides, r.Alternatives...)
		}
	}
	return e.parsed.provides, nil
}

// ParseRelations parses a relationship field (a, b (>= 1) | c:any).
func ParseRelations(s string) ([]Relation, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	d, err := dependency.Parse(s)
	if err != nil {
		return nil, err
	}
	var out []Relation
	for _, r := range d.Relations {
		var rel Relation
		for _, p := range r.Possibilities {
			if p.Substvar {
				continue
			}
			rel.Alternatives = append(rel.Alternatives, depOf(p))
		}
		if len(rel.Alternatives) > 0 {
			out = append(out, rel)
		}
	}
	return out, nil
}

func depOf(p dependency.Possibility) Dep {
	d := Dep{Name: p.Name}
	if p.Arch != nil {
		d.ArchQualifier = p.Arch.String()
	}
	if p.Version != nil {
		d.Op, d.Version = p.Version.Operator, p.Version.Number
	}
	return d
}

func entryOf(v map[string]string) *Entry {
	deps := v["Pre-Depends"]
	if d := v["Depends"]; d != "" {
		if deps != "" {
			deps += ", "
		}
		deps += d
	}
	return &Entry{Name: v["Package"], Version: v["Version"], Arch: v["Architecture"], Filename: v["Filename"],
		SHA256: v["SHA256"], Status: v["Status"], depends: deps, provides: v["Provides"], preDepends: v["Pre-Depends"]}
}
