package capability

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// addManifests seeds f with every testdata file whose name matches glob
// (at any depth under testdata).
func addManifests(f *testing.F, glob string) {
	f.Helper()
	err := filepath.WalkDir("testdata", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if ok, _ := filepath.Match(glob, d.Name()); ok {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			f.Add(data)
		}
		return nil
	})
	if err != nil {
		f.Fatal(err)
	}
}

// checkDetect runs detection over a tree holding data as file and checks
// what every detector promises: an error names the file; a set is sorted,
// free of duplicates, stable (the same JSON twice), and every requirement's
// source names the file.
func checkDetect(t *testing.T, file string, data []byte) {
	t.Helper()
	fsys := fstest.MapFS{file: {Data: data}}
	set, err := DetectFS(fsys)
	if err != nil {
		checkDetectError(t, file, err)
		return
	}
	first, _ := json.Marshal(set)
	again, err := DetectFS(fsys)
	if err != nil {
		t.Fatalf("second detection failed: %v", err)
	}
	if second, _ := json.Marshal(again); !bytes.Equal(first, second) {
		t.Fatalf("detection is not deterministic:\n%s\n%s", first, second)
	}
	checkNormalized(t, file, set)
}

func checkDetectError(t *testing.T, file string, err error) {
	t.Helper()
	base := filepath.Base(file)
	for _, e := range unjoin(err) {
		var ce *Error
		if !errors.As(e, &ce) && !strings.Contains(e.Error(), base) {
			t.Fatalf("error %q (%T) does not name %s", e, e, base)
		}
		if ce != nil && ce.File != file && ce.File != base {
			t.Fatalf("error %q is about %q, want %s", e, ce.File, file)
		}
	}
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

func checkNormalized(t *testing.T, file string, s *Set) {
	t.Helper()
	names := func(ps []Provide) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Name)
		}
		return out
	}
	if n := names(s.Provides); !slices.IsSorted(n) || len(slices.Compact(slices.Clone(n))) != len(n) {
		t.Fatalf("provides not sorted and unique: %q", n)
	}
	for _, rs := range [][]Requirement{s.BuildRequires, s.RuntimeRequires} {
		for i, r := range rs {
			if len(r.Any) == 0 || (i > 0 && slices.Compare(rs[i-1].Any, r.Any) >= 0) {
				t.Fatalf("requirements not sorted, unique and non-empty: %+v", rs)
			}
			if !strings.HasPrefix(r.Source, filepath.Base(file)) && !strings.HasPrefix(r.Source, file) {
				t.Fatalf("requirement %+v does not name %s", r, file)
			}
		}
	}
}

// FuzzGoMod: go.mod files of any content.
func FuzzGoMod(f *testing.F) {
	addManifests(f, "go.mod")
	f.Fuzz(func(t *testing.T, data []byte) { checkDetect(t, "go.mod", data) })
}

// FuzzRPMSpec: RPM spec files of any content (tags, sections,
// conditionals, macros, rich dependencies).
func FuzzRPMSpec(f *testing.F) {
	addManifests(f, "*.spec")
	f.Add([]byte("%define a %{b}%{b}\n%define b %{a}%{a}\nName: x\nBuildRequires: %{a}\n"))
	f.Fuzz(func(t *testing.T, data []byte) { checkDetect(t, "greet.spec", data) })
}

// FuzzPackageJSON: package.json files of any content.
func FuzzPackageJSON(f *testing.F) {
	addManifests(f, "package.json")
	f.Fuzz(func(t *testing.T, data []byte) { checkDetect(t, "package.json", data) })
}

// FuzzPyproject: pyproject.toml files of any content.
func FuzzPyproject(f *testing.F) {
	addManifests(f, "pyproject.toml")
	f.Fuzz(func(t *testing.T, data []byte) { checkDetect(t, "pyproject.toml", data) })
}

// FuzzOverride: .kiln/capabilities.yaml files of any content.
func FuzzOverride(f *testing.F) {
	addManifests(f, "capabilities.yaml")
	f.Fuzz(func(t *testing.T, data []byte) { checkDetect(t, ".kiln/capabilities.yaml", data) })
}

// FuzzDebianControl: debian/control files of any content (paragraphs,
// relations with alternatives, versions, arch qualifiers and restrictions,
// build profiles).
func FuzzDebianControl(f *testing.F) {
	addManifests(f, "control")
	f.Add([]byte("Source: a1\nBuild-Depends: b:native (>= 1~) [amd64 !i386] <!nocheck> <stage1 cross> | c, ${misc:Depends}\n\nPackage: a1\nArchitecture: linux-any\nBuild-Profiles: <!nodoc>\nProvides: d (= 1)\n"))
	f.Fuzz(func(t *testing.T, data []byte) { checkDetect(t, "debian/control", data) })
}
