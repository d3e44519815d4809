package capability

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.json")

// fixtures are the well-formed fixture trees, each with a golden Set.
var fixtures = []string{"libgreet", "greet-cli", "multispec", "go-greet", "go-cli",
	"npm-greet", "npm-app", "py-greet", "py-app", "override"}

func detectFixture(t *testing.T, name string) *Set {
	t.Helper()
	s, err := Detect(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("Detect(%s): %v", name, err)
	}
	return s
}

func TestDetectGolden(t *testing.T) {
	t.Parallel()
	for _, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := json.MarshalIndent(detectFixture(t, name), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", "golden", name+".json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Detect(%s) differs from %s (go test -update rewrites it):\n%s", name, golden, got)
			}
		})
	}
}

func provideNames(s *Set) []string {
	var out []string
	for _, p := range s.Provides {
		out = append(out, p.Name)
	}
	return out
}

// reqKeys renders requirements as "a|b" (alternatives) with a "?" suffix
// when optional.
func reqKeys(rs []Requirement) []string {
	var out []string
	for _, r := range rs {
		k := strings.Join(r.Any, "|")
		if r.Optional {
			k += "?"
		}
		out = append(out, k)
	}
	return out
}

func TestDetectCLibrarySpec(t *testing.T) {
	t.Parallel()
	s := detectFixture(t, "libgreet")
	wantProvides := []string{"greet-devel", "greet-library", "greet-tools", "libgreet",
		"libgreet-devel", "libgreet.so.1()(64bit)", "pkgconfig(greet)"}
	if got := provideNames(s); !slices.Equal(got, wantProvides) {
		t.Errorf("provides = %q, want %q", got, wantProvides)
	}
	// Both %if branches and the %ifarch body are read; prose in
	// %description and comments are not.
	wantBuild := []string{"cmake", "gcc", "glibc-devel", "make", "meson", "nasm",
		"pkgconfig(zlib)", "python3-sphinx|python3-docutils"}
	if got := reqKeys(s.BuildRequires); !slices.Equal(got, wantBuild) {
		t.Errorf("build requires = %q, want %q", got, wantBuild)
	}
	if got, want := reqKeys(s.RuntimeRequires), []string{"/sbin/ldconfig", "libgreet"}; !slices.Equal(got, want) {
		t.Errorf("runtime requires = %q, want %q", got, want)
	}
	if got := s.BuildRequires[0].Source; got != "libgreet.spec:21" {
		t.Errorf("source of cmake = %q, want libgreet.spec:21", got)
	}
}

func TestDetectConsumerSpec(t *testing.T) {
	t.Parallel()
	s := detectFixture(t, "greet-cli")
	want := []string{"/usr/bin/pkg-config", "bash-completion?", "gcc", "greet-devel", "make",
		"pkgconfig(greet)", "python3dist(setuptools)"}
	if got := reqKeys(s.BuildRequires); !slices.Equal(got, want) {
		t.Errorf("build requires = %q, want %q", got, want)
	}
	if got, want := reqKeys(s.RuntimeRequires), []string{"greet-tools|busybox", "libgreet.so.1()(64bit)"}; !slices.Equal(got, want) {
		t.Errorf("runtime requires = %q, want %q", got, want)
	}
}

func TestDetectGoReplaces(t *testing.T) {
	t.Parallel()
	s := detectFixture(t, "go-cli")
	// tools is replaced by ./tools (inside the tree): dropped. greet is
	// replaced by ../go-greet (outside): kept. The pflag replace is for
	// another version: kept.
	want := []string{"golang(example.com/greet)", "golang(github.com/inconshreveable/mousetrap)",
		"golang(github.com/spf13/cobra)", "golang(github.com/spf13/pflag)"}
	if got := reqKeys(s.BuildRequires); !slices.Equal(got, want) {
		t.Errorf("build requires = %q, want %q", got, want)
	}
}

func TestDetectNPM(t *testing.T) {
	t.Parallel()
	s := detectFixture(t, "npm-app")
	want := []string{"npm(@acme/greet)", "npm(@acme/left-pad)", "npm(fsevents)?", "npm(react)",
		"npm(react-dom)?", "npm(shared-config)", "npm(typescript)"}
	if got := reqKeys(s.BuildRequires); !slices.Equal(got, want) {
		t.Errorf("build requires = %q, want %q", got, want)
	}
	if got := provideNames(s); !slices.Equal(got, []string{"npm(greet-app)"}) {
		t.Errorf("provides = %q", got)
	}
}

func TestDetectOverride(t *testing.T) {
	t.Parallel()
	s := detectFixture(t, "override")
	want := []string{"golang(example.com/greet)", "libgreet", "pkgconfig(greet)|greet-devel"}
	if got := reqKeys(s.BuildRequires); !slices.Equal(got, want) {
		t.Errorf("build requires = %q, want %q", got, want)
	}
	if !slices.Equal(s.Detected, []string{"go", "override"}) {
		t.Errorf("detected = %q", s.Detected)
	}
	wantWarn := `.kiln/capabilities.yaml: ignore "npm(*)" matched nothing that was detected`
	if !slices.Equal(s.Warnings, []string{wantWarn}) {
		t.Errorf("warnings = %q, want %q", s.Warnings, wantWarn)
	}
}

func TestDetectMalformed(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"empty-buildrequires":  "greet.spec:7: BuildRequires with no value",
		"unclosed-if":          "greet.spec:3: %if without %endif",
		"stray-endif":          "greet.spec:3: %endif without %if\ngreet.spec:4: %else without %if",
		"rich-unbalanced":      `greet.spec:2: BuildRequires: unbalanced '(' in "(gcc or clang"`,
		"rich-mixed":           `greet.spec:2: BuildRequires: cannot mix "or" and "and" in one group; add parentheses`,
		"version-no-name":      `greet.spec:2: BuildRequires: version constraint ">= 1.0" with no name`,
		"no-name":              "greet.spec: no Name tag",
		"macro-loop":           "greet.spec:2: Name: macro expansion too deep (a macro that uses itself?)",
		"provides-rich":        `greet.spec:2: Provides: rich dependency "(greet-a or greet-b)" is not allowed here`,
		"package-no-name":      "greet.spec:2: %package with no name\ngreet.spec:4: %package with no name",
		"bad-version-op":       "greet.spec:2: BuildRequires: invalid version operator \"=>\"\ngreet.spec:3: BuildRequires: version missing after \">=\"",
		"gomod-syntax":         "go.mod:5: usage: require module/path v1.2.3\ngo.mod:6: unknown directive: frobnicate",
		"gomod-no-module":      "go.mod: no module line",
		"npm-syntax":           "package.json:5: invalid JSON: invalid character '}' looking for beginning of object key string",
		"npm-deps-type":        "package.json:3: dependencies must be a JSON object",
		"npm-version-type":     `package.json:4: the version of "typescript" in devDependencies must be a string`,
		"npm-name-type":        "package.json:1: name must be a string",
		"pyproject-syntax":     "pyproject.toml:4: invalid TOML: expected character ] but the document ended here",
		"pyproject-badreq":     `pyproject.toml:2: invalid requirement ">=1.0" (it must start with a PEP 508 name)`,
		"pyproject-noname":     "pyproject.toml: [project] has no name",
		"override-unknown":     `.kiln/capabilities.yaml: unknown field "provide" (the keys are provides, requires and ignore)`,
		"override-syntax":      ".kiln/capabilities.yaml:2: did not find expected key",
		"override-bad-require": ".kiln/capabilities.yaml: a requirement must be a name or a list of alternative names",
		"deb-bad-relation":     `debian/control:3: Build-Depends: "libgreet-dev (>= 1.0": ` + "oh no. Reached EOF before Number finished" + ` (a relation is "name[:arch] [(op version)] [[arch ...]] [<profile ...>]", alternatives joined by '|', relations by ',')`,
		"deb-no-source":        "debian/control:1: the first paragraph has no Source: field (it must describe the source package)",
		"several-files": "go.mod:2: usage: require module/path v1.2.3\n" +
			"package.json:2: the version of \"a\" in dependencies must be a string\n" +
			`.kiln/capabilities.yaml: unknown field "require" (the keys are provides, requires and ignore)`,
	}
	dirs, _ := filepath.Glob("testdata/malformed/*")
	if len(dirs) != len(cases) {
		t.Errorf("%d malformed fixtures, %d cases: keep them in step", len(dirs), len(cases))
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, err := Detect(filepath.Join("testdata", "malformed", name))
			if err == nil || err.Error() != want {
				t.Errorf("Detect(%s) = %v, %v\nwant error:\n%s", name, s, err, want)
			}
		})
	}
}

func TestDetectEmptyTree(t *testing.T) {
	t.Parallel()
	s, err := Detect(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if s.Provides != nil || s.BuildRequires != nil || s.Detected != nil {
		t.Errorf("empty tree: %+v", s)
	}
}

func TestDetectMissingDir(t *testing.T) {
	t.Parallel()
	if _, err := Detect(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Error("Detect on a missing directory succeeded")
	}
}

func TestDetectDoesNotFollowSymlinksOut(t *testing.T) {
	t.Parallel()
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("root:x:0:0:root:/root:/bin/bash\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "go.mod")); err != nil {
		t.Skip("no symlinks here:", err)
	}
	_, err := Detect(dir)
	if err == nil || strings.Contains(err.Error(), "root:x") {
		t.Errorf("Detect through an escaping symlink: %v", err)
	}
}

func TestDetectRejectsNonRegularFile(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{"go.mod": {Mode: os.ModeDir}}
	_, err := DetectFS(fsys)
	if err == nil || err.Error() != "go.mod: not a regular file" {
		t.Errorf("err = %v", err)
	}
}

func TestDetectFSSeveralSpecsWithoutNames(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"b.spec": {Data: []byte("Name: b\n")},
		"a.spec": {Data: []byte("Name: a\n")},
	}
	s, err := DetectFS(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if got := provideNames(s); !slices.Equal(got, []string{"a"}) {
		t.Errorf("provides = %q, want the first spec by name", got)
	}
	s, err = DetectFSWith(fsys, Options{Names: []string{"x", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := provideNames(s); !slices.Equal(got, []string{"b"}) {
		t.Errorf("provides = %q, want b.spec, named after the component", got)
	}
}

func TestDetectWithComponentName(t *testing.T) {
	t.Parallel()
	s, err := DetectWith(filepath.Join("testdata", "multispec"), Options{Names: []string{"other"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := provideNames(s); !slices.Equal(got, []string{"other"}) {
		t.Errorf("provides = %q, want other.spec's", got)
	}
}

func TestDetectDeterministic(t *testing.T) {
	t.Parallel()
	first, _ := json.Marshal(detectFixture(t, "libgreet"))
	for range 20 {
		again, _ := json.Marshal(detectFixture(t, "libgreet"))
		if !bytes.Equal(first, again) {
			t.Fatalf("two runs differ:\n%s\n%s", first, again)
		}
	}
}
