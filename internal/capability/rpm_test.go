package capability

import (
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

func TestMacroExpand(t *testing.T) {
	t.Parallel()
	m := newMacros()
	m.defs["name"] = macro{body: "greet"}
	m.defs["version"] = macro{body: "1.2"}
	m.defs["soname"] = macro{body: "lib%{name}.so.%{major}"}
	m.defs["major"] = macro{body: "1"}
	m.defs["with_docs"] = macro{body: "1"}
	m.defs["args"] = macro{body: "x %1", parametric: true}
	cases := map[string]string{
		"%{name}-devel":                "greet-devel",
		"%name-devel":                  "greet-devel",
		"1%{?dist}":                    "1",
		"%{?fedora}":                   "",
		"0%{?fedora}":                  "0",
		"%{?with_docs:sphinx}":         "sphinx",
		"%{?with_tests:pytest}":        "",
		"%{!?with_tests:no-tests}":     "no-tests",
		"%{!?with_docs:no-docs}":       "",
		"%{!?with_docs}":               "",
		"%{soname}":                    "libgreet.so.1",
		"%{undefined_macro}":           "%{undefined_macro}",
		"%undefined_macro":             "%undefined_macro",
		"100%%":                        "100%",
		"100%":                         "100%",
		"%(echo hi)-x":                 "%(echo hi)-x",
		"%[1+1]":                       "%[1+1]",
		"%{lua: print(1)}":             "%{lua: print(1)}",
		"%{args}":                      "%{args}",
		"%{name}%{?_isa}":              "greet",
		"%{py3_dist Sphinx pytest}":    "python3dist(sphinx) python3dist(pytest)",
		"%{lower:%{name}-ABC}":         "greet-abc",
		"%{expand:%%{name}}":           "greet",
		"%{_bindir}/pkg-config":        "/usr/bin/pkg-config",
		"%{?version:%{name}-%version}": "greet-1.2",
		"%{unclosed":                   "%{unclosed",
	}
	for in, want := range cases {
		got, err := m.expand(in)
		if err != nil || got != want {
			t.Errorf("expand(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestMacroExpandLimits(t *testing.T) {
	t.Parallel()
	m := newMacros()
	m.defs["loop"] = macro{body: "a%{loop}"}
	if _, err := m.expand("%{loop}"); err != errMacroDepth {
		t.Errorf("self-reference: err = %v", err)
	}
	m = newMacros()
	m.defs["a0"] = macro{body: strings.Repeat("x", 1024)}
	for i := 1; i <= 30; i++ { // a30 would be 2^30 KiB
		m.defs["a"+strconv.Itoa(i)] = macro{body: "%{a" + strconv.Itoa(i-1) + "}%{a" + strconv.Itoa(i-1) + "}"}
	}
	if _, err := m.expand("%{a30}"); err != errMacroOutput && err != errMacroWork {
		t.Errorf("exponential expansion: err = %v", err)
	}
}

// TestMacroWorkIsBoundedPerFile: many lines, each expanding to just under
// the 1 MiB bound, stop at the file's total budget instead of costing
// minutes and gigabytes.
func TestMacroWorkIsBoundedPerFile(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("Name: x\n%define a0 " + strings.Repeat("x", 1024) + "\n")
	for i := 1; i <= 9; i++ { // a9 is 512 KiB
		fmt.Fprintf(&b, "%%define a%d %%{a%d}%%{a%d}\n", i, i-1, i-1)
	}
	for i := range 2000 {
		fmt.Fprintf(&b, "%%global g%d %%{a9}\nProvides: %%{g%d}\n", i, i)
	}
	_, err := DetectFS(fstest.MapFS{"x.spec": {Data: []byte(b.String())}})
	if err == nil || !strings.Contains(err.Error(), errMacroWork.Error()) {
		t.Fatalf("err = %.300v, want %q", err, errMacroWork)
	}
}

// TestSpecLineContinuationsAreLinear: joining a long run of continued lines
// allocates about the file's size, not the square of it.
func TestSpecLineContinuationsAreLinear(t *testing.T) { // not parallel: it measures allocation
	const n = 20000
	spec := "Name: x\nProvides: " + strings.Repeat("a\\\n", n) + "b"
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	lines := specLines(spec)
	runtime.ReadMemStats(&after)
	if len(lines) != 2 || lines[1].text != "Provides: "+strings.Repeat("a ", n)+"b" {
		t.Fatalf("joined into %d lines, second %.40q", len(lines), lines[len(lines)-1].text)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Fatalf("joining %d continued lines allocated %d bytes", n, alloc)
	}
}

func TestParseDeps(t *testing.T) {
	t.Parallel()
	cases := map[string][]string{
		"gcc":                                  {"gcc"},
		"gcc, make  cmake":                     {"gcc", "make", "cmake"},
		"pkgconfig(greet) >= 1.0":              {"pkgconfig(greet)"},
		"foo>=1.0 bar":                         {"foo", "bar"},
		"foo = 1:2.3-4.fc41, bar < 2":          {"foo", "bar"},
		"libgreet.so.1()(64bit)":               {"libgreet.so.1()(64bit)"},
		"perl(Foo::Bar) >= 1.2":                {"perl(Foo::Bar)"},
		"bundled(golang(example.com/x)) = 1":   {"bundled(golang(example.com/x))"},
		"font(:lang=en)":                       {"font(:lang=en)"},
		"greet-devel(x86-64) = 1.2":            {"greet-devel"},
		"greet(aarch-64)":                      {"greet"},
		"/usr/bin/pkg-config":                  {"/usr/bin/pkg-config"},
		"(a or b)":                             {"a|b"},
		"(a >= 1 or b)":                        {"a|b"},
		"(pkgconfig(x) >= 1 or (b and c))":     {"pkgconfig(x)|b", "pkgconfig(x)|c"},
		"((a and b) or c)":                     {"a|c", "b|c"},
		"(a and b and c)":                      {"a", "b", "c"},
		"(a with b)":                           {"a", "b"},
		"(a without b)":                        {"a"},
		"(a if b)":                             {"a?"},
		"(a unless b)":                         {"a?"},
		"(a if b else c)":                      {"a|c"},
		"(a or (b if c))":                      {"a|b?"},
		"(a or a)":                             {"a"},
		"(a)":                                  {"a"},
		"gcc # the compiler":                   {"gcc"},
		"":                                     nil,
		"(python3-sphinx or python3-docutils)": {"python3-sphinx|python3-docutils"},
	}
	for in, want := range cases {
		ds, _, err := parseDeps(in, true)
		if err != nil {
			t.Errorf("parseDeps(%q): %v", in, err)
			continue
		}
		var got []string
		for _, d := range ds {
			k := strings.Join(d.any, "|")
			if d.conditional {
				k += "?"
			}
			got = append(got, k)
		}
		if !slices.Equal(got, want) {
			t.Errorf("parseDeps(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseDepsErrors(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		">= 1.0":                 `version constraint ">= 1.0" with no name`,
		"foo >=":                 `version missing after ">="`,
		"foo => 1":               `invalid version operator "=>"`,
		"foo)":                   `unbalanced ')' in "foo)"`,
		"pkgconfig(greet":        `unbalanced '(' in "pkgconfig(greet"`,
		"pkgconfig(gr eet)":      `unbalanced '(' in "pkgconfig(gr"`,
		"(a or b":                `unbalanced '(' in "(a or b"`,
		"(a or b and c)":         `cannot mix "or" and "and" in one group; add parentheses`,
		"(a xor b)":              `expected and, or, if, unless, with, without, else or ')' in rich dependency, found "xor"`,
		"(a else b)":             `'else' without 'if' or 'unless'`,
		"(a if b else c else d)": `"if" may only be followed by 'else'; add parentheses`,
		"(a or)":                 "missing dependency name",
		"-foo":                   `invalid name "-foo" (a name starts with a letter, a digit, '_' or '/')`,
		"((a or b) and (c or d) and (e or f) and (g or h) and (i or j) and (k or l) and (m or n))": "",
	}
	for in, want := range cases {
		_, _, err := parseDeps(in, true)
		if want == "" {
			if err != nil {
				t.Errorf("parseDeps(%q): %v", in, err)
			}
			continue
		}
		if err == nil || err.Error() != want {
			t.Errorf("parseDeps(%q) error = %v, want %q", in, err, want)
		}
	}
	big := "(" + strings.Repeat("(a and b and c and d) or ", 4) + "(e and f))"
	if _, _, err := parseDeps(big, true); err == nil || !strings.Contains(err.Error(), "too complex") {
		t.Errorf("parseDeps(big) error = %v", err)
	}
}

func detectSpec(t *testing.T, spec string) *Set {
	t.Helper()
	s, err := DetectFS(fstest.MapFS{"x.spec": {Data: []byte(spec)}})
	if err != nil {
		t.Fatalf("DetectFS: %v", err)
	}
	return s
}

func TestSpecConditionalName(t *testing.T) {
	t.Parallel()
	s := detectSpec(t, `%if 0%{?rhel}
Name: greet-compat
%else
Name: greet
%endif
%package devel
Summary: x
`)
	if got := provideNames(s); !slices.Equal(got, []string{"greet-compat", "greet-compat-devel"}) {
		t.Errorf("provides = %q", got)
	}
	want := `x.spec:4: second Name "greet" ignored, keeping "greet-compat" (every %if branch is read)`
	if !slices.Equal(s.Warnings, []string{want}) {
		t.Errorf("warnings = %q, want %q", s.Warnings, want)
	}
}

func TestSpecLinesAndSections(t *testing.T) {
	t.Parallel()
	s := detectSpec(t, "Name: greet\r\n"+
		"BuildRequires: gcc \\\r\n"+
		"  make\r\n"+
		"# BuildRequires: commented \\\r\n"+
		"BuildRequires: after-comment\r\n"+
		"buildrequires: lower-case\r\n"+
		"BuildRequires: %{undefined_thing}-devel\r\n"+
		"%generate_buildrequires\r\n"+
		"%pyproject_buildrequires\r\n"+
		"%files\r\n"+
		"BuildRequires: not-a-tag-in-files\r\n")
	want := []string{"%{undefined_thing}-devel", "after-comment", "gcc", "lower-case", "make"}
	if got := reqKeys(s.BuildRequires); !slices.Equal(got, want) {
		t.Errorf("build requires = %q, want %q", got, want)
	}
	if got := s.BuildRequires[2].Source; got != "x.spec:2" {
		t.Errorf("gcc source = %q", got)
	}
	wantWarn := []string{
		`x.spec:7: "%{undefined_thing}-devel" holds a macro that is not defined in the spec file; kept as written`,
		"x.spec:8: build requirements generated by %generate_buildrequires are not detected",
	}
	if !slices.Equal(s.Warnings, wantWarn) {
		t.Errorf("warnings = %q, want %q", s.Warnings, wantWarn)
	}
}

func TestSpecSubpackageTagsAndMacros(t *testing.T) {
	t.Parallel()
	s := detectSpec(t, `%global srcname Greet
%define pyname python3-%{lower:%{srcname}}
Name: %{pyname}
%package -n %{srcname}-doc
BuildRequires: sphinx
Requires: %{name} = 1
Provides: greet-doc = 1, greet-manual
Name: ignored
%undefine srcname
%package %{?srcname}extra
`)
	wantProv := []string{"Greet-doc", "greet-doc", "greet-manual", "python3-greet", "python3-greet-extra"}
	if got := provideNames(s); !slices.Equal(got, wantProv) {
		t.Errorf("provides = %q, want %q", got, wantProv)
	}
	if got := reqKeys(s.BuildRequires); !slices.Equal(got, []string{"sphinx"}) {
		t.Errorf("build requires = %q", got)
	}
	if got := reqKeys(s.RuntimeRequires); !slices.Equal(got, []string{"python3-greet"}) {
		t.Errorf("runtime requires = %q", got)
	}
	if !slices.Contains(s.Warnings, "x.spec:8: Name inside a %package section ignored") {
		t.Errorf("warnings = %q", s.Warnings)
	}
}

func TestSpecDefineErrors(t *testing.T) {
	t.Parallel()
	_, err := DetectFS(fstest.MapFS{"x.spec": {Data: []byte("%define\n%global empty\n%define 9bad x\n%define ok(a:) %1\nName: a b\n")}})
	want := "x.spec:1: %define with no macro name\n" +
		"x.spec:2: %global empty has an empty body (use %{nil})\n" +
		`x.spec:3: %define: invalid macro name "9bad"` + "\n" +
		`x.spec:5: Name must be one word, not "a b"`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant:\n%s", err, want)
	}
}
