package capability

import (
	"errors"
	"strings"
)

// macro is one %define/%global (or built-in) macro.
type macro struct {
	body       string
	parametric bool // %define foo(a:) ...: never expanded here
}

// macros is the macro table of one spec file. Expansion follows rpm where it
// matters for names: %{name}, %name, %{?name}, %{?name:text},
// %{!?name:text}, %% and a few built-in functions. Undefined macros and
// anything needing a shell (%(...)), Lua or expressions (%[...]) are left as
// written, as rpm leaves undefined macros.
type macros struct {
	defs map[string]macro
	// work counts the bytes every expansion of this file produced,
	// intermediate ones included, against maxMacroWork.
	work int
}

// builtinMacros are the few distribution macros that show up in dependency
// names. %_isa is empty so "foo%{?_isa}" means the bare name "foo".
var builtinMacros = map[string]string{
	"nil": "", "_isa": "", "python3_pkgversion": "3",
	"_prefix": "/usr", "_exec_prefix": "/usr", "_bindir": "/usr/bin", "_sbindir": "/usr/sbin",
	"_libdir": "/usr/lib64", "_libexecdir": "/usr/libexec", "_datadir": "/usr/share",
	"_includedir": "/usr/include", "_sysconfdir": "/etc", "_mandir": "/usr/share/man",
	"_localstatedir": "/var", "_sharedstatedir": "/var/lib", "_unitdir": "/usr/lib/systemd/system",
}

func newMacros() *macros {
	m := &macros{defs: make(map[string]macro, len(builtinMacros)+16)}
	for k, v := range builtinMacros {
		m.defs[k] = macro{body: v}
	}
	return m
}

// Bounds of macro expansion: the depth of nested expansions, the length of
// one expansion, and the bytes all expansions of one spec file may produce
// together (without it, a few kilobytes of %global lines that each expand
// to most of a mebibyte cost minutes and gigabytes).
const (
	maxMacroDepth  = 64
	maxMacroOutput = 1 << 20
	maxMacroWork   = 8 << 20
)

var (
	errMacroDepth  = errors.New("macro expansion too deep (a macro that uses itself?)")
	errMacroOutput = errors.New("macro expansion longer than 1 MiB")
	errMacroWork   = errors.New("macro expansions of this file produce more than 8 MiB in total")
)

// expand expands every macro in s.
func (m *macros) expand(s string) (string, error) { return m.expandDepth(s, 0) }

func (m *macros) expandDepth(s string, depth int) (string, error) {
	if depth > maxMacroDepth {
		return "", errMacroDepth
	}
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		j := strings.IndexByte(s[i:], '%')
		if j < 0 {
			b.WriteString(s[i:])
			break
		}
		b.WriteString(s[i : i+j])
		i += j
		out, n, err := m.one(s[i:], depth)
		if err != nil {
			return "", err
		}
		b.WriteString(out)
		i += n
		if b.Len() > maxMacroOutput {
			return "", errMacroOutput
		}
		if m.work+b.Len() > maxMacroWork {
			return "", errMacroWork
		}
	}
	m.work += b.Len()
	return b.String(), nil
}

// one expands the macro at the start of s (s[0] == '%') and says how many
// bytes it consumed.
func (m *macros) one(s string, depth int) (string, int, error) {
	if len(s) < 2 {
		return s, len(s), nil
	}
	switch s[1] {
	case '%':
		return "%", 2, nil
	case '{':
		end := matching(s, 1, '{', '}')
		if end < 0 {
			return s, len(s), nil
		}
		out, err := m.braced(s[2:end], s[:end+1], depth)
		return out, end + 1, err
	case '(', '[':
		if end := matching(s, 1, s[1], closer(s[1])); end >= 0 {
			return s[:end+1], end + 1, nil
		}
		return s, len(s), nil
	}
	return m.bare(s, depth)
}

func closer(open byte) byte {
	if open == '(' {
		return ')'
	}
	return ']'
}

// matching returns the index of the bracket closing the one at s[open].
func matching(s string, open int, o, c byte) int {
	depth := 0
	for i := open; i < len(s); i++ {
		switch s[i] {
		case o:
			depth++
		case c:
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// bare expands %name, %?name and %!?name.
func (m *macros) bare(s string, depth int) (string, int, error) {
	i := 1
	for i < len(s) && (s[i] == '?' || s[i] == '!') {
		i++
	}
	flags := s[1:i]
	n := identLen(s[i:])
	if n == 0 {
		return s[:1], 1, nil
	}
	out, err := m.call(flags, s[i:i+n], "", false, s[:i+n], depth)
	return out, i + n, err
}

// braced expands the inside of %{...}; raw is the whole "%{...}".
func (m *macros) braced(in, raw string, depth int) (string, error) {
	i := 0
	for i < len(in) && (in[i] == '?' || in[i] == '!') {
		i++
	}
	flags, rest := in[:i], in[i:]
	n := identLen(rest)
	name, tail := rest[:n], rest[n:]
	if n == 0 {
		return raw, nil
	}
	switch {
	case tail == "":
		return m.call(flags, name, "", false, raw, depth)
	case tail[0] == ':':
		return m.call(flags, name, tail[1:], true, raw, depth)
	case tail[0] == ' ' && flags == "":
		return m.function(name, strings.TrimSpace(tail), raw, depth)
	}
	return raw, nil
}

// call expands a macro reference; flags are "?" (optional), "!?"
// (negated optional) or "" and arg the text after ':' if hasArg.
func (m *macros) call(flags, name, arg string, hasArg bool, raw string, depth int) (string, error) {
	def, defined := m.defs[name]
	optional := strings.Contains(flags, "?")
	if optional && strings.Contains(flags, "!") {
		defined = !defined
		def.body = ""
	}
	switch {
	case optional && !defined:
		return "", nil
	case optional && hasArg:
		return m.expandDepth(arg, depth+1)
	case hasArg && !defined:
		return m.builtinFunction(name, arg, raw, depth)
	case !defined || def.parametric:
		return raw, nil
	}
	return m.expandDepth(def.body, depth+1)
}

// builtinFunction expands %{expand:...}, %{lower:...}, %{upper:...} and
// %{shrink:...}; others are kept as written.
func (m *macros) builtinFunction(name, arg, raw string, depth int) (string, error) {
	v, err := m.expandDepth(arg, depth+1)
	if err != nil {
		return "", err
	}
	switch name {
	case "expand":
		return m.expandDepth(v, depth+1)
	case "lower":
		return strings.ToLower(v), nil
	case "upper":
		return strings.ToUpper(v), nil
	case "shrink":
		return strings.Join(strings.Fields(v), " "), nil
	}
	return raw, nil
}

// function expands the parametric call %{name args}; only %{py3_dist ...}
// is known.
func (m *macros) function(name, args, raw string, depth int) (string, error) {
	if name != "py3_dist" {
		return raw, nil
	}
	v, err := m.expandDepth(args, depth+1)
	if err != nil {
		return "", err
	}
	var out []string
	for _, a := range strings.Fields(v) {
		out = append(out, "python3dist("+normalizePythonName(a)+")")
	}
	return strings.Join(out, " "), nil
}

// identLen is the length of the macro name at the start of s.
func identLen(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z')
		if !letter && (i == 0 || c < '0' || c > '9') {
			return i
		}
	}
	return len(s)
}
