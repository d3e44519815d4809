package capability

import (
	"slices"
	"testing"
	"testing/fstest"
)

func TestInsideTree(t *testing.T) {
	t.Parallel()
	cases := map[string]bool{
		"./tools": true, "tools/../lib": true, ".": true, "./a/../../b": false,
		"../sibling": false, "..": false, "/abs/path": false, `C:\mods\x`: false, `.\win`: true,
	}
	for in, want := range cases {
		if got := insideTree(in); got != want {
			t.Errorf("insideTree(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestGoVersionSpecificReplace(t *testing.T) {
	t.Parallel()
	gomod := `module example.com/m

require (
	example.com/a v1.0.0
	example.com/b v1.0.0
)

replace example.com/a v1.0.0 => ./a
replace example.com/a => ../a
replace example.com/b => ./b
replace example.com/b v1.0.0 => example.com/b-fork v1.0.1
`
	s, err := DetectFS(fstest.MapFS{"go.mod": {Data: []byte(gomod)}})
	if err != nil {
		t.Fatal(err)
	}
	// a: the exact-version replace (inside) wins over the general one.
	// b: the exact-version replace (another module) wins over ./b.
	if got, want := reqKeys(s.BuildRequires), []string{"golang(example.com/b)"}; !slices.Equal(got, want) {
		t.Errorf("build requires = %q, want %q", got, want)
	}
}

func TestNPMTarget(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, spec, want string
		ok               bool
	}{
		{"chalk", "^5.3.0", "chalk", true},
		{"lp", "npm:@acme/left-pad@^2", "@acme/left-pad", true},
		{"lp", "npm:left-pad", "left-pad", true},
		{"w", "workspace:^", "", false},
		{"t", "file:./themes/t", "", false},
		{"t", "link:../t", "t", true},
		{"t", "./local", "", false},
		{"t", "../outside", "t", true},
		{"g", "github:acme/g#v1", "g", true},
	}
	for _, c := range cases {
		got, ok := npmTarget(c.name, c.spec)
		if got != c.want && c.ok || ok != c.ok {
			t.Errorf("npmTarget(%q, %q) = %q, %v; want %q, %v", c.name, c.spec, got, ok, c.want, c.ok)
		}
	}
}

func TestNPMTrailingData(t *testing.T) {
	t.Parallel()
	_, err := DetectFS(fstest.MapFS{"package.json": {Data: []byte("{\"name\": \"a\"}\n{}")}})
	if err == nil || err.Error() != "package.json:2: data after the top-level object" {
		t.Errorf("err = %v", err)
	}
	_, err = DetectFS(fstest.MapFS{"package.json": {Data: []byte("[1]")}})
	if err == nil || err.Error() != "package.json:1: the top level must be a JSON object" {
		t.Errorf("err = %v", err)
	}
	_, err = DetectFS(fstest.MapFS{"package.json": {Data: []byte("{\"name\": \"a\",\n")}})
	if err == nil || err.Error() != "package.json:2: unexpected end of file" {
		t.Errorf("err = %v", err)
	}
}

func TestPEP508Name(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"requests":                "requests",
		"requests[socks] >= 2.31": "requests",
		"importlib-metadata; python_version < '3.10'": "importlib-metadata",
		"greet-lib (>=1.0)":                           "greet-lib",
		"pip @ https://example.com/pip.whl":           "pip",
		"Zope.Interface~=5.0":                         "Zope.Interface",
		"a!=1":                                        "a",
		">=1.0":                                       "",
		"bad name":                                    "",
		"-x":                                          "",
	}
	for in, want := range cases {
		got, ok := pep508Name(in)
		if got != want || ok != (want != "") {
			t.Errorf("pep508Name(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	if got := normalizePythonName("Zope.Interface__x--Y"); got != "zope-interface-x-y" {
		t.Errorf("normalizePythonName = %q", got)
	}
}

func TestPythonToolOnlyFileIsNoDetection(t *testing.T) {
	t.Parallel()
	s, err := DetectFS(fstest.MapFS{"pyproject.toml": {Data: []byte("[tool.ruff]\nline-length = 100\n")}})
	if err != nil || s.Detected != nil {
		t.Errorf("DetectFS = %+v, %v; want nothing detected", s, err)
	}
	_, err = DetectFS(fstest.MapFS{"pyproject.toml": {Data: []byte("[project]\nname = \"x\"\ndependencies = \"requests\"\n")}})
	if err == nil || err.Error() != "pyproject.toml:3: dependencies must be an array of strings, not a string" {
		t.Errorf("err = %v", err)
	}
}

func TestGlobMatch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pat, s string
		want   bool
	}{
		{"gcc", "gcc", true},
		{"gcc", "gcc-c++", false},
		{"golang(golang.org/x/*)", "golang(golang.org/x/tools/gopls)", true},
		{"golang(golang.org/x/*)", "golang(golang.org/y/tools)", false},
		{"*-devel", "greet-devel", true},
		{"*", "", true},
		{"a*b*c", "abc", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "acb", false},
		{"a*a", "a", false},
		{"pkgconfig(*)", "pkgconfig(greet)", true},
	}
	for _, c := range cases {
		if got := globMatch(c.pat, c.s); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", c.pat, c.s, got, c.want)
		}
	}
}

func TestOverrideIgnoreDropsRequirementWithAnIgnoredAlternative(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"x.spec":     {Data: []byte("Name: x\nProvides: x-compat\nBuildRequires: (a or b), c\nRequires: b\n")},
		OverrideFile: {Data: []byte("ignore: [b, x-compat]\nrequires: [d]\n")},
	}
	s, err := DetectFS(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := reqKeys(s.BuildRequires), []string{"c", "d"}; !slices.Equal(got, want) {
		t.Errorf("build requires = %q, want %q", got, want)
	}
	if len(s.RuntimeRequires) != 0 {
		t.Errorf("runtime requires = %q, want none", reqKeys(s.RuntimeRequires))
	}
	if got := provideNames(s); !slices.Equal(got, []string{"x"}) {
		t.Errorf("provides = %q", got)
	}
	if s.Warnings != nil {
		t.Errorf("warnings = %q", s.Warnings)
	}
}

func TestOverrideValidation(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"provides: ['']":    ".kiln/capabilities.yaml: provides[0] is empty",
		"requires: [a, []]": ".kiln/capabilities.yaml: requires[1] is empty or has an empty alternative",
		"ignore: [a, ' ']":  ".kiln/capabilities.yaml: ignore[1] is empty",
	}
	for in, want := range cases {
		_, err := DetectFS(fstest.MapFS{OverrideFile: {Data: []byte(in)}})
		if err == nil || err.Error() != want {
			t.Errorf("%s: err = %v, want %q", in, err, want)
		}
	}
}
