package debian

import (
	"fmt"
	"io"
	"regexp"
	"strings"

	"pault.ag/go/debian/dependency"
)

// ControlFile is the name used in errors about debian/control.
const ControlFile = "debian/control"

// Control is a parsed debian/control: the source paragraph and the binary
// package paragraphs, in file order.
type Control struct {
	Source   Source
	Binaries []Binary
}

// Source is the source paragraph of debian/control.
type Source struct {
	Name       string // Source:
	Maintainer string
	Line       int // line of the paragraph's first field
	// relations are the parsed Build-Depends, Build-Depends-Arch and
	// Build-Depends-Indep fields, in that order.
	relations []fieldRelations
}

// Binary is one binary package paragraph of debian/control.
type Binary struct {
	Package       string
	Architectures []string // the Architecture: field, e.g. ["any"], ["all"], ["amd64", "arm64"]
	// Provides are the Provides: relations (substitution variables such
	// as ${python3:Provides} dropped).
	Provides []Relation
	Line     int // line of the Package: field
	arches   []dependency.Arch
	// profiles is the Build-Profiles restriction formula; nil when the
	// package is built in every profile.
	profiles []dependency.StageSet
}

// Relation is one comma-separated entry of a relationship field: any one of
// the alternatives (written with '|') satisfies it.
type Relation struct {
	Alternatives []Dep  `json:"alternatives"`
	Field        string `json:"field"` // e.g. "Build-Depends"
	Line         int    `json:"line"`  // line of the relation in debian/control
}

// Dep is one alternative of a Relation.
type Dep struct {
	Name string `json:"name"`
	// Op is the version operator ("<<", "<=", "=", ">=", ">>"), empty when
	// any version will do; Version is the version it compares with.
	Op      string `json:"op,omitempty"`
	Version string `json:"version,omitempty"`
	// ArchQualifier is the Multi-Arch qualifier after ':' ("any",
	// "native", or an architecture), empty when there is none.
	ArchQualifier string `json:"archQualifier,omitempty"`
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

// fieldRelations is one parsed relationship field.
type fieldRelations struct {
	name  string
	line  int
	lines []int // line of each relation; nil when unknown (then line)
	dep   dependency.Dependency
}

// buildDependsFields are the source fields BuildDepends reads, in order.
var buildDependsFields = []string{"Build-Depends", "Build-Depends-Arch", "Build-Depends-Indep"}

// ParseControl reads a debian/control file. Errors name the line:
// "debian/control:7: Build-Depends: ...".
func ParseControl(r io.Reader) (*Control, error) {
	paras, err := readParagraphs(r, ControlFile)
	if err != nil {
		return nil, err
	}
	if len(paras) == 0 {
		return nil, &SyntaxError{ControlFile, 0, "no source paragraph: the file is empty"}
	}
	src, err := parseSource(paras[0])
	if err != nil {
		return nil, err
	}
	c := &Control{Source: *src}
	for _, p := range paras[1:] {
		b, err := parseBinary(p)
		if err != nil {
			return nil, err
		}
		c.Binaries = append(c.Binaries, *b)
	}
	if len(c.Binaries) == 0 {
		return nil, &SyntaxError{ControlFile, 0, "no binary package paragraph (Package: ...) after the source paragraph"}
	}
	return c, nil
}

// parseSource reads the first paragraph.
func parseSource(p paragraph) (*Source, error) {
	name, ok := p.get("Source")
	if !ok {
		return nil, &SyntaxError{ControlFile, p.line, "the first paragraph has no Source: field (it must describe the source package)"}
	}
	if !ValidPackageName(name.value) {
		return nil, &SyntaxError{ControlFile, name.line, fmt.Sprintf("Source: %q is not a valid package name", truncate(name.value))}
	}
	s := &Source{Name: name.value, Line: p.line}
	if m, ok := p.get("Maintainer"); ok {
		s.Maintainer = m.value
	}
	for _, fname := range buildDependsFields {
		f, ok := p.get(fname)
		if !ok {
			continue
		}
		fr, err := parseRelationField(f)
		if err != nil {
			return nil, err
		}
		s.relations = append(s.relations, fr)
	}
	return s, nil
}

// parseBinary reads one binary package paragraph.
func parseBinary(p paragraph) (*Binary, error) {
	pkg, ok := p.get("Package")
	if !ok {
		return nil, &SyntaxError{ControlFile, p.line, "binary package paragraph without a Package: field"}
	}
	if !ValidPackageName(pkg.value) {
		return nil, &SyntaxError{ControlFile, pkg.line, fmt.Sprintf("Package: %q is not a valid package name", truncate(pkg.value))}
	}
	b := &Binary{Package: pkg.value, Line: pkg.line}
	if err := b.parseArchitecture(p); err != nil {
		return nil, err
	}
	if err := b.parseBuildProfiles(p); err != nil {
		return nil, err
	}
	if f, ok := p.get("Provides"); ok {
		fr, err := parseRelationField(f)
		if err != nil {
			return nil, err
		}
		b.Provides = relations(fr, filter{})
	}
	return b, nil
}

// parseArchitecture reads the Architecture: field (required).
func (b *Binary) parseArchitecture(p paragraph) error {
	f, ok := p.get("Architecture")
	if !ok || f.value == "" {
		return &SyntaxError{ControlFile, b.Line, fmt.Sprintf("package %s has no Architecture: field", b.Package)}
	}
	for _, a := range strings.Fields(f.value) {
		arch, err := dependency.ParseArch(a)
		if err != nil {
			return &SyntaxError{ControlFile, f.line, fmt.Sprintf("Architecture: %q: %v", a, err)}
		}
		b.Architectures = append(b.Architectures, a)
		b.arches = append(b.arches, *arch)
	}
	return nil
}

// parseBuildProfiles reads the Build-Profiles: restriction formula
// ("<!nodoc>", "<!stage1> <!nocheck>"), parsed by the library's relation
// parser as the restrictions of a placeholder relation.
func (b *Binary) parseBuildProfiles(p paragraph) error {
	f, ok := p.get("Build-Profiles")
	if !ok {
		return nil
	}
	dep, err := dependency.Parse("placeholder " + f.value)
	if err != nil || len(dep.Relations) != 1 || len(dep.Relations[0].Possibilities) != 1 || !strings.HasPrefix(strings.TrimSpace(f.value), "<") {
		return &SyntaxError{ControlFile, f.line, fmt.Sprintf("Build-Profiles: %q is not a restriction formula such as <!nocheck> or <stage1> <!cross>", truncate(f.value))}
	}
	b.profiles = dep.Relations[0].Possibilities[0].StageSets
	return nil
}

// Built says whether the package is built on host architecture arch with
// the build profiles profiles active: BuiltOn(arch) and its Build-Profiles
// formula (if any) holds.
func (b *Binary) Built(arch string, profiles []string) bool {
	return b.BuiltOn(arch) && profilesApply(b.profiles, profiles)
}

// BuiltOn says whether the package is built on host architecture arch: its
// Architecture field names "all", "any", arch, or a wildcard matching arch
// (linux-any).
func (b *Binary) BuiltOn(arch string) bool {
	host, err := dependency.ParseArch(arch)
	if err != nil {
		return false
	}
	for i, a := range b.arches {
		if b.Architectures[i] == "all" || b.Architectures[i] == "any" || a.Is(host) {
			return true
		}
	}
	return false
}

// parseRelationField parses a relationship field with pault.ag/go/debian,
// naming the field and the line of the bad relation in errors.
func parseRelationField(f field) (fieldRelations, error) {
	chunks := splitRelations(f)
	fr := fieldRelations{name: f.name, line: f.line}
	if len(chunks) == 0 {
		return fr, nil
	}
	dep, err := dependency.Parse(f.value)
	if err != nil {
		return fr, relationError(f, chunks, err)
	}
	for _, c := range chunks {
		if emptyRestriction.MatchString(c.text) {
			return fr, &SyntaxError{ControlFile, c.line, fmt.Sprintf("%s: %q: an empty [] or <> restriction list", f.name, truncate(strings.TrimSpace(c.text)))}
		}
	}
	for _, r := range dep.Relations {
		for _, p := range r.Possibilities {
			if p.Substvar {
				continue
			}
			if msg := checkPossibility(p, f.name); msg != "" {
				return fr, &SyntaxError{ControlFile, lineOf(chunks, p.Name, f.line), fmt.Sprintf("%s: %s", f.name, msg)}
			}
		}
	}
	fr.dep = *dep
	if len(dep.Relations) == len(chunks) {
		for _, c := range chunks {
			fr.lines = append(fr.lines, c.line)
		}
	}
	return fr, nil
}

// emptyRestriction matches "[]" and "<>" (the library accepts them).
var emptyRestriction = regexp.MustCompile(`\[\s*\]|<\s*>`)

// archPart is one part of an architecture name or wildcard.
var archPart = regexp.MustCompile(`^[a-z0-9_]+$`)

// checkPossibility checks what the library lets through: names, arch
// qualifiers and restrictions, versions (a source field's versions must be
// valid; binary fields may hold ${substvars}), profile terms.
func checkPossibility(p dependency.Possibility, fieldName string) string {
	if !ValidPackageName(p.Name) {
		return fmt.Sprintf("%q is not a valid package name", truncate(p.Name))
	}
	if p.Arch != nil && !validArch(*p.Arch) {
		return fmt.Sprintf("%s: invalid architecture qualifier %q", p.Name, truncate(p.Arch.String()))
	}
	if p.Architectures != nil {
		for _, a := range p.Architectures.Architectures {
			if !validArch(a) {
				return fmt.Sprintf("%s: invalid architecture %q in [...]", p.Name, truncate(a.String()))
			}
		}
	}
	if p.Version != nil {
		if _, err := ParseVersion(p.Version.Number); err != nil && (strings.HasPrefix(fieldName, "Build-") || !strings.Contains(p.Version.Number, "${")) {
			return fmt.Sprintf("%s: %v", p.Name, err)
		}
	}
	for _, set := range p.StageSets {
		for _, st := range set.Stages {
			if !archPart.MatchString(strings.ReplaceAll(strings.ReplaceAll(st.Name, "-", "_"), ".", "_")) {
				return fmt.Sprintf("%s: invalid build profile %q", p.Name, truncate(st.Name))
			}
		}
	}
	return ""
}

// validArch checks each part of a parsed architecture.
func validArch(a dependency.Arch) bool {
	for _, part := range []string{a.ABI, a.Libc, a.OS, a.CPU} {
		if !archPart.MatchString(part) {
			return false
		}
	}
	return true
}

// chunk is one comma-separated relation of a field and its line.
type chunk struct {
	text string
	line int
}

// splitRelations splits a field's value at commas (which relations never
// contain), dropping empty entries, and finds the line each starts on.
func splitRelations(f field) []chunk {
	var out []chunk
	line := f.line
	for part := range strings.SplitSeq(f.value, ",") {
		trimmed := strings.TrimLeft(part, " \t\n")
		start := line + strings.Count(part[:len(part)-len(trimmed)], "\n")
		if strings.TrimSpace(trimmed) != "" {
			out = append(out, chunk{text: trimmed, line: start})
		}
		line += strings.Count(part, "\n")
	}
	return out
}

// relationError finds the first relation the library cannot parse, to name
// its line; err is the error for the whole field.
func relationError(f field, chunks []chunk, err error) error {
	line, what := f.line, ""
	for _, c := range chunks {
		if _, cerr := dependency.Parse(c.text); cerr != nil {
			line, what, err = c.line, fmt.Sprintf(" %q:", truncate(strings.TrimSpace(c.text))), cerr
			break
		}
	}
	msg := err.Error()
	return &SyntaxError{ControlFile, line, fmt.Sprintf("%s:%s %s%s (a relation is \"name[:arch] [(op version)] [[arch ...]] [<profile ...>]\", alternatives joined by '|', relations by ',')", f.name, what, strings.ToLower(msg[:1]), msg[1:])}
}

// lineOf is the line of the first chunk mentioning name.
func lineOf(chunks []chunk, name string, def int) int {
	for _, c := range chunks {
		if strings.Contains(c.text, name) {
			return c.line
		}
	}
	return def
}

// ValidPackageName checks a package name against Debian policy 5.6.1/5.6.7: lower-case letters,
// digits, '+', '-', '.', at least two characters, starting alphanumeric.
func ValidPackageName(s string) bool {
	if len(s) < 2 {
		return false
	}
	for i, c := range s {
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || !strings.ContainsRune("+-.", c)) {
			return false
		}
	}
	return true
}
