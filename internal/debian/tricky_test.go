package debian

import (
	"strings"
	"testing"
)

// TestRelationsTheLibraryAccepts: inputs pault.ag/go/debian's parser
// accepts (or truncates) that are not valid relations are errors here.
func TestRelationsTheLibraryAccepts(t *testing.T) {
	cases := map[string]string{
		"a1:":              `a1: invalid architecture qualifier ""`,
		"a1:any:native":    `a1: invalid architecture qualifier "any:native"`,
		"a1 <> <>":         "an empty [] or <> restriction list",
		"a1 [] ":           "an empty [] or <> restriction list",
		"a1 (>=)":          `a1: invalid Debian version "": version string is empty`,
		"a1 (>= x.y)":      `a1: invalid Debian version "x.y"`,
		"a1 \x00, b1":      "a NUL byte", // the library stops reading at a NUL
		"a1 [amd64 !i386]": "either the entire arch list needs negations",
		"a1 <!no/check>":   `a1: invalid build profile "no/check"`,
	}
	for rel, want := range cases {
		text := "Source: s1\nBuild-Depends: " + rel + "\n\nPackage: s1\nArchitecture: any\n"
		_, err := ParseControl(strings.NewReader(text))
		if err == nil || !strings.Contains(err.Error(), "debian/control:2: ") || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error = %v, want %q at line 2", rel, err, want)
		}
	}
}

// TestValidRelationsStillParse keeps what the checks must not refuse.
func TestValidRelationsStillParse(t *testing.T) {
	for _, rel := range []string{"a1:any", "a1:native", "a1:amd64 (>= 1:2.3~rc1-4+b1)", "a1 [linux-any]", "a1 [!hurd-any !kfreebsd-any]", "a1 <!nocheck> <stage1 !cross>", "a1 <pkg.foo.bar>", "${misc:Depends}, a1"} {
		text := "Source: s1\nBuild-Depends: " + rel + "\n\nPackage: s1\nArchitecture: any\nProvides: p1 (= ${binary:Version})\n"
		if _, err := ParseControl(strings.NewReader(text)); err != nil {
			t.Errorf("%q: %v", rel, err)
		}
	}
}
