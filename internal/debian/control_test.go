package debian

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares v's JSON with testdata/name (rewritten with -update).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create it): %v", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs from the result:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// marshal is v's indented JSON, with <, > and & as written.
func marshal(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func parseFile(t *testing.T, name string) *Control {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := ParseControl(f)
	if err != nil {
		t.Fatalf("ParseControl: %v", err)
	}
	return c
}

func TestBuildDependsGolden(t *testing.T) {
	c := parseFile(t, "libgreet.control")
	cases := []struct {
		name     string
		arch     string
		profiles []string
	}{
		{"amd64", "amd64", nil},
		{"amd64-nocheck", "amd64", []string{"nocheck"}},
		{"hurd-i386-stage1-cross", "hurd-i386", []string{"stage1", "cross"}},
		{"noarch", "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			golden(t, "libgreet.build-depends."+tc.name+".json", marshal(t, c.Source.BuildDepends(tc.arch, tc.profiles)))
		})
	}
}

// TestBuildDependsRealControl: curl's debian/control from bookworm (a
// field starting on its continuation lines, <!nocheck>, a long arch list).
func TestBuildDependsRealControl(t *testing.T) {
	c := parseFile(t, "curl.control")
	golden(t, "curl.build-depends.amd64.json", marshal(t, c.Source.BuildDepends("amd64", nil)))
	golden(t, "curl.build-depends.amd64-nocheck.json", marshal(t, c.Source.BuildDepends("amd64", []string{"nocheck"})))
	all, nocheck := c.Source.BuildDepends("amd64", nil), c.Source.BuildDepends("amd64", []string{"nocheck"})
	if len(all) != 29 || len(nocheck) != 22 || all[0].Line != 8 || all[0].Alternatives[0].Name != "debhelper-compat" {
		t.Errorf("curl: %d relations (%d with nocheck), first %+v", len(all), len(nocheck), all[0])
	}
	if got := c.Source.BuildDepends("alpha", nil); len(got) != 28 {
		t.Errorf("on alpha, gnutls-bin [amd64 arm64 ...] must be dropped: %d relations", len(got))
	}
}

func TestParseControlBinaries(t *testing.T) {
	c := parseFile(t, "libgreet.control")
	if c.Source.Name != "libgreet" || c.Source.Line != 2 {
		t.Errorf("source = %q at line %d, want libgreet at line 2", c.Source.Name, c.Source.Line)
	}
	var built []string
	for _, b := range c.Binaries {
		if b.BuiltOn("amd64") {
			built = append(built, b.Package)
		}
	}
	if got := strings.Join(built, " "); got != "libgreet1 libgreet-dev greet-doc" {
		t.Errorf("packages built on amd64 = %q", got)
	}
	if doc := c.Binaries[2]; !doc.Built("amd64", nil) || doc.Built("amd64", []string{"nodoc"}) {
		t.Errorf("greet-doc (Build-Profiles: <!nodoc>) must be built by default and not with nodoc")
	}
	dev := c.Binaries[1]
	var provides []string
	for _, r := range dev.Provides {
		provides = append(provides, r.Alternatives[0].String())
	}
	if got := strings.Join(provides, ", "); got != "greet-dev (= ${binary:Version}), libgreet-headers" {
		t.Errorf("Provides = %q", got)
	}
}

func TestParseControlErrors(t *testing.T) {
	cases := []struct{ name, text, want string }{
		{"empty", "", "debian/control: no source paragraph"},
		{"no source", "Package: a1\nArchitecture: any\n", "debian/control:1: the first paragraph has no Source: field"},
		{"no binary", "Source: a1\n", "no binary package paragraph"},
		{"not a field", "Source: a1\nBuild-Depends: foo\nthis line is garbage\n", "debian/control:3: \"this line is garbage\" is not a \"Field: value\" line"},
		{"continuation first", " indented\nSource: a1\n", "debian/control:1: continuation line without a field"},
		{"bad relation", "Source: a1\nMaintainer: m\nBuild-Depends: foo (>= 1.0,\n bar\n\nPackage: a1\nArchitecture: any\n", "debian/control:3: Build-Depends: "},
		{"garbage relation", "Source: a1\nBuild-Depends-Indep: foo bar\n\nPackage: a1\nArchitecture: any\n", "debian/control:2: Build-Depends-Indep: \"foo bar\": trailing garbage"},
		{"bad relation on a continuation line", "Source: a1\nBuild-Depends: a,\n b,\n c [amd64\n\nPackage: a1\nArchitecture: any\n", "debian/control:4: Build-Depends: \"c [amd64\": "},
		{"bad name", "Source: a1\nBuild-Depends: Foo_Bar\n\nPackage: a1\nArchitecture: any\n", "debian/control:2: Build-Depends: \"Foo_Bar\" is not a valid package name"},
		{"bad source name", "Source: A\n\nPackage: a1\nArchitecture: any\n", "debian/control:1: Source: \"A\" is not a valid package name"},
		{"no package", "Source: a1\n\nArchitecture: any\n", "debian/control:3: binary package paragraph without a Package: field"},
		{"no arch", "Source: a1\n\nPackage: a1\n", "debian/control:3: package a1 has no Architecture: field"},
		{"duplicate", "Source: a1\nBuild-Depends: a\nBuild-depends: b\n\nPackage: a1\nArchitecture: any\n", "debian/control:3: field Build-depends repeated (first on line 2)"},
		{"bad build profiles", "Source: a1\n\nPackage: a1\nArchitecture: any\nBuild-Profiles: !nocheck\n", "debian/control:5: Build-Profiles: \"!nocheck\" is not a restriction formula"},
		{"bad provides", "Source: a1\n\nPackage: a1\nArchitecture: any\nProvides: x (= \n", "debian/control:5: Provides: "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseControl(strings.NewReader(tc.text))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Errorf("error %T is not a *SyntaxError", err)
			}
		})
	}
}

func TestParseControlTooLarge(t *testing.T) {
	big := "Source: a1\nDescription: x\n" + strings.Repeat(" "+strings.Repeat("y", 1000)+"\n", 9000)
	_, err := ParseControl(strings.NewReader(big))
	if err == nil || !strings.Contains(err.Error(), "larger than 8 MiB") {
		t.Fatalf("error = %v, want a size error", err)
	}
}
