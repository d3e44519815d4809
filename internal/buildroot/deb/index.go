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

	"pault.ag/go/debian/control"
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
// to.
func ReadIndex(r io.Reader, mirror string) ([]*Entry, error) {
	pr, err := control.NewParagraphReader(bufio.NewReaderSize(r, 1<<20), nil)
	if err != nil {
		return nil, err
	}
	var out []*Entry
	for {
		p, err := pr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading package %d of the index: %w", len(out)+1, err)
		}
		e := entryOf(p.Values)
		if e.Name == "" || e.Version == "" {
			return nil, fmt.Errorf("package %d of the index has no Package or Version field", len(out)+1)
		}
		if mirror != "" && e.Filename != "" {
			e.URL = strings.TrimSuffix(mirror, "/") + "/" + e.Filename
		}
		out = append(out, e)
	}
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
		SHA256: v["SHA256"], Status: v["Status"], depends: deps, provides: v["Provides"]}
}

// Depends are the entry's Pre-Depends and Depends.
func (e *Entry) Depends() ([]Relation, error) {
	if err := e.parse(); err != nil {
		return nil, err
	}
	return e.parsed.depends, nil
}

// Provides are the entry's Provides (virtual packages, maybe versioned).
func (e *Entry) Provides() ([]Dep, error) {
	if err := e.parse(); err != nil {
		return nil, err
	}
	return e.parsed.provides, nil
}

func (e *Entry) parse() error {
	if e.parsed != nil {
		return nil
	}
	deps, err := ParseRelations(e.depends)
	if err != nil {
		return fmt.Errorf("%s %s: Depends: %w", e.Name, e.Version, err)
	}
	prov, err := ParseRelations(e.provides)
	if err != nil {
		return fmt.Errorf("%s %s: Provides: %w", e.Name, e.Version, err)
	}
	p := &parsedRels{depends: deps}
	for _, r := range prov {
		p.provides = append(p.provides, r.Alternatives...)
	}
	e.parsed = p
	return nil
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
