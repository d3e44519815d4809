package capability

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"
)

// detectRPM reads the spec file at the top of the tree.
func detectRPM(c *collector) (bool, error) {
	file, err := pickSpec(c)
	if file == "" {
		return false, err
	}
	data, ok, err := c.read(file)
	if !ok {
		return false, err
	}
	p := &specParser{file: file, c: c, macros: newMacros()}
	return true, p.parse(data)
}

// pickSpec chooses among the *.spec files at the top of the tree: the one
// named after the component, else the first by name.
func pickSpec(c *collector) (string, error) {
	entries, err := fs.ReadDir(c.fsys, ".")
	if err != nil {
		return "", fmt.Errorf("listing the source tree: %w", err)
	}
	var specs []string
	for _, e := range entries {
		if n := e.Name(); !e.IsDir() && len(n) > len(".spec") && strings.HasSuffix(n, ".spec") {
			specs = append(specs, n)
		}
	}
	if len(specs) <= 1 {
		return strings.Join(specs, ""), nil
	}
	list := strings.Join(specs, ", ")
	for _, n := range c.opts.Names {
		if slices.Contains(specs, n+".spec") {
			c.warn("%d spec files (%s): read %s, named after the component", len(specs), list, n+".spec")
			return n + ".spec", nil
		}
	}
	c.warn("%d spec files (%s): read %s, the first by name, as none is named after the component", len(specs), list, specs[0])
	return specs[0], nil
}

type section int

const (
	secPreamble    section = iota // the main package's tags
	secSubPreamble                // the tags after %package
	secBody                       // %description, %prep, %build, %files, %changelog, scriptlets...
)

// bodySections start a section whose lines are not tags.
var bodySections = func() map[string]bool {
	m := map[string]bool{}
	for _, s := range strings.Fields(`%description %prep %build %install %check %clean %files
		%changelog %pre %post %preun %postun %pretrans %posttrans %preuntrans %postuntrans
		%verifyscript %triggerprein %triggerin %triggerun %triggerpostun %filetriggerin
		%filetriggerun %filetriggerpostun %transfiletriggerin %transfiletriggerun
		%transfiletriggerpostun %generate_buildrequires %conf %sourcelist %patchlist`) {
		m[s] = true
	}
	return m
}()

const maxSpecErrors = 20

// specParser reads one spec file line by line. Conditionals (%if, %ifarch,
// ...) are not evaluated: every branch is read.
type specParser struct {
	file    string
	c       *collector
	macros  *macros
	name    string // the main package's Name
	sawName bool   // a Name tag was seen, even a malformed one
	sec     section
	conds   []int // lines of the open %if's
	errs    []error
}

func (p *specParser) parse(data []byte) error {
	for _, l := range specLines(string(data)) {
		p.line(l.no, l.text)
	}
	for _, no := range p.conds {
		p.errorf(no, "%%if without %%endif")
	}
	if !p.sawName {
		p.errs = append(p.errs, &Error{File: p.file, Msg: "no Name tag"})
	}
	return errors.Join(p.errs...)
}

func (p *specParser) errorf(no int, format string, args ...any) {
	if len(p.errs) < maxSpecErrors {
		p.errs = append(p.errs, &Error{File: p.file, Line: no, Msg: fmt.Sprintf(format, args...)})
	}
}

func (p *specParser) warnf(no int, format string, args ...any) {
	p.c.warn("%s: %s", at(p.file, no), fmt.Sprintf(format, args...))
}

type specLine struct {
	no   int
	text string
}

// specLines splits the file into lines, joining a line that ends with a
// backslash with the next (comment lines are never continued).
// Joining appends to one builder, so that a long run of continued lines
// costs linear, not quadratic, time.
func specLines(s string) []specLine {
	raw := strings.Split(s, "\n")
	out := make([]specLine, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		no, text := i+1, strings.TrimRight(raw[i], "\r")
		if strings.HasPrefix(strings.TrimSpace(text), "#") || !strings.HasSuffix(text, `\`) || i+1 == len(raw) {
			out = append(out, specLine{no: no, text: text})
			continue
		}
		var b strings.Builder
		for strings.HasSuffix(text, `\`) && i+1 < len(raw) {
			b.WriteString(text[:len(text)-1])
			b.WriteByte(' ')
			i++
			text = strings.TrimRight(raw[i], "\r")
		}
		b.WriteString(text)
		out = append(out, specLine{no: no, text: b.String()})
	}
	return out
}

func (p *specParser) line(no int, text string) {
	t := strings.TrimSpace(text)
	if t == "" || t[0] == '#' {
		return
	}
	word, rest := splitWord(t)
	if word == "%dnl" || p.conditional(no, word) || p.macroLine(no, word, rest) || p.sectionLine(no, word, rest) {
		return
	}
	if p.sec != secBody {
		p.tag(no, t)
	}
}

// splitWord returns the first word of s and the rest, trimmed.
func splitWord(s string) (string, string) {
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimSpace(s[i:])
}

// conditional tracks %if nesting only, so unbalanced ones are reported.
func (p *specParser) conditional(no int, word string) bool {
	switch word {
	case "%if", "%ifarch", "%ifnarch", "%ifos", "%ifnos":
		p.conds = append(p.conds, no)
	case "%elif", "%elifarch", "%elifos", "%else":
		if len(p.conds) == 0 {
			p.errorf(no, "%s without %%if", word)
		}
	case "%endif":
		if len(p.conds) == 0 {
			p.errorf(no, "%%endif without %%if")
		} else {
			p.conds = p.conds[:len(p.conds)-1]
		}
	default:
		return false
	}
	return true
}

func (p *specParser) macroLine(no int, word, rest string) bool {
	switch word {
	case "%define", "%global":
		p.define(no, word, rest)
	case "%undefine":
		name, _ := splitWord(rest)
		delete(p.macros.defs, name)
	default:
		return false
	}
	return true
}

// define records %define (expanded when used) and %global (expanded now).
func (p *specParser) define(no int, word, rest string) {
	name, body := splitWord(rest)
	parametric := false
	if i := strings.IndexByte(name, '('); i >= 0 {
		name, parametric = name[:i], true
	}
	switch {
	case name == "":
		p.errorf(no, "%s with no macro name", word)
		return
	case identLen(name) != len(name):
		p.errorf(no, "%s: invalid macro name %q", word, name)
		return
	case body == "":
		p.errorf(no, "%s %s has an empty body (use %%{nil})", word, name)
		return
	}
	if word == "%global" && !parametric {
		var err error
		if body, err = p.macros.expand(body); err != nil {
			p.errorf(no, "%s %s: %v", word, name, err)
			return
		}
	}
	p.macros.defs[name] = macro{body: body, parametric: parametric}
}

func (p *specParser) sectionLine(no int, word, rest string) bool {
	if word == "%package" {
		p.sec = secSubPreamble
		p.subpackage(no, rest)
		return true
	}
	if !bodySections[word] {
		return false
	}
	p.sec = secBody
	if word == "%generate_buildrequires" {
		p.warnf(no, "build requirements generated by %%generate_buildrequires are not detected")
	}
	return true
}

// subpackage handles "%package foo" (<name>-foo) and "%package -n foo".
func (p *specParser) subpackage(no int, rest string) {
	v, err := p.macros.expand(rest)
	if err != nil {
		p.errorf(no, "%%package: %v", err)
		return
	}
	f := strings.Fields(v)
	var name string
	switch {
	case len(f) == 0 || (f[0] == "-n" && len(f) == 1):
		p.errorf(no, "%%package with no name")
		return
	case f[0] == "-n":
		name = f[1]
	case p.name == "":
		p.errorf(no, "%%package %s before the Name tag", f[0])
		return
	default:
		name = p.name + "-" + f[0]
	}
	p.checkExpanded(no, name)
	p.c.provide(name, at(p.file, no))
}

// tagRE matches "Tag:", "Tag(qualifier):" preamble lines.
var tagRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9]*)\s*(\([^)]*\))?\s*:(.*)$`)

func (p *specParser) tag(no int, line string) {
	m := tagRE.FindStringSubmatch(line)
	if m == nil {
		return
	}
	raw := strings.TrimSpace(m[3])
	switch strings.ToLower(m[1]) {
	case "name":
		p.setName(no, raw)
	case "version", "release", "epoch":
		p.setMacroTag(no, strings.ToLower(m[1]), raw)
	case "buildrequires":
		p.requires(no, "BuildRequires", raw, p.c.buildReq)
	case "requires":
		p.requires(no, "Requires", raw, p.c.runtimeReq)
	case "provides":
		p.provides(no, raw)
	}
}

// value expands a tag's value; an empty value is an error.
func (p *specParser) value(no int, tag, raw string) (string, bool) {
	if raw == "" {
		p.errorf(no, "%s with no value", tag)
		return "", false
	}
	v, err := p.macros.expand(raw)
	if err != nil {
		p.errorf(no, "%s: %v", tag, err)
		return "", false
	}
	return strings.TrimSpace(v), true
}

func (p *specParser) setName(no int, raw string) {
	p.sawName = true
	v, ok := p.value(no, "Name", raw)
	switch {
	case !ok:
	case p.sec != secPreamble:
		p.warnf(no, "Name inside a %%package section ignored")
	case len(strings.Fields(v)) != 1:
		p.errorf(no, "Name must be one word, not %q", v)
	case p.name != "" && p.name != v:
		p.warnf(no, "second Name %q ignored, keeping %q (every %%if branch is read)", v, p.name)
	case p.name == "":
		p.name = v
		p.macros.defs["name"] = macro{body: v}
		p.checkExpanded(no, v)
		p.c.provide(v, at(p.file, no))
	}
}

func (p *specParser) setMacroTag(no int, tag, raw string) {
	if v, ok := p.value(no, strings.ToUpper(tag[:1])+tag[1:], raw); ok {
		p.macros.defs[tag] = macro{body: v}
	}
}

func (p *specParser) requires(no int, tag, raw string, add func(Requirement)) {
	for _, d := range p.deps(no, tag, raw, true) {
		p.checkExpanded(no, d.any...)
		add(Requirement{Any: d.any, Source: at(p.file, no), Optional: d.conditional})
	}
}

func (p *specParser) provides(no int, raw string) {
	for _, d := range p.deps(no, "Provides", raw, false) {
		p.checkExpanded(no, d.any[0])
		p.c.provide(d.any[0], at(p.file, no))
	}
}

func (p *specParser) deps(no int, tag, raw string, allowRich bool) []dep {
	v, ok := p.value(no, tag, raw)
	if !ok {
		return nil
	}
	ds, comment, err := parseDeps(v, allowRich)
	if err != nil {
		p.errorf(no, "%s: %v", tag, err)
		return nil
	}
	if comment {
		p.warnf(no, "text after '#' in %s ignored (rpm does not allow comments there)", tag)
	}
	return ds
}

// checkExpanded warns about names that still hold a macro.
func (p *specParser) checkExpanded(no int, names ...string) {
	for _, n := range names {
		if strings.Contains(n, "%") {
			p.warnf(no, "%q holds a macro that is not defined in the spec file; kept as written", n)
		}
	}
}
