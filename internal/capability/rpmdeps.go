package capability

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// dep is one parsed dependency: any of its alternatives satisfies it.
// conditional marks the "A if B" / "A unless B" parts of rich dependencies.
type dep struct {
	any         []string
	conditional bool
}

// depScanner reads one expanded Requires/BuildRequires/Provides value:
// names separated by spaces or commas, each optionally followed by a
// version constraint (dropped), and rich dependencies in parentheses.
type depScanner struct {
	s         string
	i         int
	allowRich bool
	comment   bool // a trailing "# ..." was dropped
}

// parseDeps parses a dependency list. A rich dependency becomes one dep per
// clause of its conjunctive normal form.
func parseDeps(s string, allowRich bool) (deps []dep, comment bool, err error) {
	d := &depScanner{s: s, allowRich: allowRich}
	deps, err = d.list()
	return deps, d.comment, err
}

func (d *depScanner) list() ([]dep, error) {
	var out []dep
	for {
		d.skip(" \t,")
		if d.i >= len(d.s) {
			return out, nil
		}
		switch d.s[d.i] {
		case '#':
			d.comment = true
			return out, nil
		case ')':
			return nil, fmt.Errorf("unbalanced ')' in %q", d.s)
		case '(':
			clauses, err := d.richDep()
			if err != nil {
				return nil, err
			}
			out = append(out, clauses...)
			continue
		}
		name, err := d.simple(false)
		if err != nil {
			return nil, err
		}
		out = append(out, dep{any: []string{name}})
	}
}

func (d *depScanner) skip(chars string) {
	for d.i < len(d.s) && strings.IndexByte(chars, d.s[d.i]) >= 0 {
		d.i++
	}
}

func isOpChar(c byte) bool { return c == '<' || c == '>' || c == '=' }

func isSpace(c byte) bool { return c == ' ' || c == '\t' }

// simple reads a name and drops a following version constraint.
func (d *depScanner) simple(inRich bool) (string, error) {
	start := d.i
	if d.i < len(d.s) && isOpChar(d.s[d.i]) {
		return "", fmt.Errorf("version constraint %q with no name", strings.TrimSpace(d.s[d.i:]))
	}
	if err := d.scanName(); err != nil {
		return "", err
	}
	name := d.s[start:d.i]
	if err := checkDepName(name); err != nil {
		return "", err
	}
	return normalizeRPMName(name), d.constraint(inRich)
}

// scanName advances over a name; parentheses inside it must balance
// ("pkgconfig(greet)", "libgreet.so.1()(64bit)").
func (d *depScanner) scanName() error {
	start, depth := d.i, 0
	for ; d.i < len(d.s); d.i++ {
		c := d.s[d.i]
		switch {
		case c == '(':
			depth++
		case c == ')' && depth == 0:
			return nil // closes an enclosing rich dependency
		case c == ')':
			depth--
		case depth == 0 && (isSpace(c) || c == ',' || isOpChar(c)):
			return nil
		case depth > 0 && isSpace(c):
			return fmt.Errorf("unbalanced '(' in %q", d.s[start:d.i])
		}
	}
	if depth > 0 {
		return fmt.Errorf("unbalanced '(' in %q", d.s[start:])
	}
	return nil
}

func checkDepName(name string) error {
	if name == "" {
		return fmt.Errorf("missing dependency name")
	}
	c := name[0]
	if c == '_' || c == '/' || (c >= '0' && c <= '9') || (c|0x20 >= 'a' && c|0x20 <= 'z') {
		return nil
	}
	if c == '%' {
		return nil // a macro that could not be expanded; the caller warns
	}
	return fmt.Errorf("invalid name %q (a name starts with a letter, a digit, '_' or '/')", name)
}

var versionOps = map[string]bool{"<": true, "<=": true, "=": true, "==": true, ">=": true, ">": true}

// constraint drops an optional "OP VERSION" after a name.
func (d *depScanner) constraint(inRich bool) error {
	save := d.i
	d.skip(" \t")
	start := d.i
	d.skip("<>=")
	op := d.s[start:d.i]
	if op == "" {
		d.i = save
		return nil
	}
	if !versionOps[op] {
		return fmt.Errorf("invalid version operator %q", op)
	}
	d.skip(" \t")
	vstart := d.i
	for d.i < len(d.s) && !isSpace(d.s[d.i]) && d.s[d.i] != ',' && !(inRich && d.s[d.i] == ')') {
		d.i++
	}
	if d.i == vstart {
		return fmt.Errorf("version missing after %q", op)
	}
	return nil
}

// isaSuffix is rpm's %{_isa} ("(x86-64)"), dropped so "foo(x86-64)" means
// the bare package name "foo".
var isaSuffix = regexp.MustCompile(`\((x86|aarch|ppc|s390|riscv|arm|armv7hl|armv7hnl|mips|sparc|loongarch|ia|alpha|sh)-(32|64)\)$`)

func normalizeRPMName(name string) string {
	if strings.HasSuffix(name, "-32)") || strings.HasSuffix(name, "-64)") {
		return isaSuffix.ReplaceAllString(name, "")
	}
	return name
}

// richNode is a parsed rich (boolean) dependency.
type richNode struct {
	op   string // "" for a leaf; and, or, with, without, if, unless, ifelse
	name string
	kids []*richNode
}

func (d *depScanner) richDep() ([]dep, error) {
	if !d.allowRich {
		return nil, fmt.Errorf("rich dependency %q is not allowed here", d.s[d.i:])
	}
	n, err := d.rich()
	if err != nil {
		return nil, err
	}
	return toCNF(n)
}

// rich reads "( term op term ... )"; d.s[d.i] is '('.
func (d *depScanner) rich() (*richNode, error) {
	open := d.i
	d.i++
	terms, ops := []*richNode{}, []string{}
	for {
		t, err := d.richTerm(open)
		if err != nil {
			return nil, err
		}
		terms = append(terms, t)
		d.skip(" \t")
		if d.i >= len(d.s) {
			return nil, fmt.Errorf("unbalanced '(' in %q", d.s[open:])
		}
		if d.s[d.i] == ')' {
			d.i++
			return buildRich(ops, terms)
		}
		op, err := d.keyword()
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
}

func (d *depScanner) richTerm(open int) (*richNode, error) {
	d.skip(" \t")
	if d.i >= len(d.s) {
		return nil, fmt.Errorf("unbalanced '(' in %q", d.s[open:])
	}
	if d.s[d.i] == '(' {
		return d.rich()
	}
	name, err := d.simple(true)
	if err != nil {
		return nil, err
	}
	return &richNode{name: name}, nil
}

var richOps = map[string]bool{"and": true, "or": true, "if": true, "unless": true, "with": true, "without": true, "else": true}

func (d *depScanner) keyword() (string, error) {
	start := d.i
	for d.i < len(d.s) && d.s[d.i] >= 'a' && d.s[d.i] <= 'z' {
		d.i++
	}
	if w := d.s[start:d.i]; richOps[w] {
		return w, nil
	}
	rest, _, _ := strings.Cut(d.s[start:], " ")
	return "", fmt.Errorf("expected and, or, if, unless, with, without, else or ')' in rich dependency, found %q", rest)
}

// buildRich checks the operators of one parenthesised group like rpm does:
// one kind of operator per group, "else" only after if/unless.
func buildRich(ops []string, terms []*richNode) (*richNode, error) {
	if len(ops) == 0 {
		return terms[0], nil
	}
	switch op := ops[0]; {
	case op == "else":
		return nil, fmt.Errorf("'else' without 'if' or 'unless'")
	case op == "if" || op == "unless":
		return buildConditional(ops, terms)
	default:
		for _, o := range ops[1:] {
			if o != op {
				return nil, fmt.Errorf("cannot mix %q and %q in one group; add parentheses", op, o)
			}
		}
		return &richNode{op: op, kids: terms}, nil
	}
}

func buildConditional(ops []string, terms []*richNode) (*richNode, error) {
	switch {
	case len(ops) == 1:
		return &richNode{op: ops[0], kids: terms}, nil
	case len(ops) == 2 && ops[1] == "else":
		return &richNode{op: "ifelse", kids: terms}, nil
	}
	return nil, fmt.Errorf("%q may only be followed by 'else'; add parentheses", ops[0])
}

const maxClauses = 64

// toCNF turns a rich dependency into clauses (alternatives) that must all
// hold. Conditions (the B of "A if B") are not evaluated: A is kept and
// marked conditional.
func toCNF(n *richNode) ([]dep, error) {
	switch n.op {
	case "":
		return []dep{{any: []string{n.name}}}, nil
	case "and", "with":
		var out []dep
		for _, k := range n.kids {
			c, err := toCNF(k)
			if err != nil {
				return nil, err
			}
			out = append(out, c...)
		}
		return out, nil
	case "or":
		return orCNF(n.kids)
	case "without":
		return toCNF(n.kids[0])
	case "ifelse":
		return orCNF([]*richNode{n.kids[0], n.kids[2]})
	}
	c, err := toCNF(n.kids[0]) // if, unless
	for i := range c {
		c[i].conditional = true
	}
	return c, err
}

// orCNF distributes "or" over the kids' clauses.
func orCNF(kids []*richNode) ([]dep, error) {
	acc := []dep{{}}
	for _, k := range kids {
		c, err := toCNF(k)
		if err != nil {
			return nil, err
		}
		if len(acc)*len(c) > maxClauses {
			return nil, fmt.Errorf("rich dependency too complex (more than %d clauses)", maxClauses)
		}
		acc = crossClauses(acc, c)
	}
	return acc, nil
}

func crossClauses(a, b []dep) []dep {
	out := make([]dep, 0, len(a)*len(b))
	for _, x := range a {
		for _, y := range b {
			alts := append(slices.Clip(x.any), y.any...)
			out = append(out, dep{any: uniqueInOrder(alts), conditional: x.conditional || y.conditional})
		}
	}
	return out
}

func uniqueInOrder(ss []string) []string {
	out := ss[:0]
	for _, s := range ss {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
