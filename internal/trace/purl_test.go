package trace

import (
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/internal/lineage"
)

func TestParsePackageCanonicalises(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Package{
		"pkg:golang/golang.org/x/net@v0.1.0":                   {Key: "pkg:golang/golang.org/x/net@v0.1.0", Base: "pkg:golang/golang.org/x/net", Type: "golang", Version: "v0.1.0"},
		"pkg:golang/GitHub.com/Foo/Bar@v1.2.3?type=module":     {Key: "pkg:golang/github.com/foo/bar@v1.2.3", Base: "pkg:golang/github.com/foo/bar", Type: "golang", Version: "v1.2.3"},
		"pkg:npm/%40babel/core@7.24.0":                         {Key: "pkg:npm/%40babel/core@7.24.0", Base: "pkg:npm/%40babel/core", Type: "npm", Version: "7.24.0"},
		"PKG:pypi/Django_Rest@3.0#sub":                         {Key: "pkg:pypi/django-rest@3.0", Base: "pkg:pypi/django-rest", Type: "pypi", Version: "3.0"},
		"pkg:generic/libgreet?vcs_url=git%2Bfile%3A%2F%2F%2Fx": {Key: "pkg:generic/libgreet", Base: "pkg:generic/libgreet", Type: "generic"},
	} {
		got, err := ParsePackage(in)
		if err != nil || got != want {
			t.Errorf("ParsePackage(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
}

func TestPackageQuery(t *testing.T) {
	t.Parallel()
	cases := []struct {
		query   string
		base    string
		in, out []string
	}{
		{"pkg:golang/golang.org/x/net@<0.23.0", "pkg:golang/golang.org/x/net", []string{"v0.1.0", "v0.22.0"}, []string{"v0.23.0", ""}},
		{"pkg:golang/golang.org/x/net@%3C0.23.0", "pkg:golang/golang.org/x/net", []string{"v0.1.0"}, []string{"v0.30.0"}},
		{"pkg:golang/golang.org/x/net@vers:golang/>=0.1.0|<0.23.0", "pkg:golang/golang.org/x/net", []string{"v0.1.0"}, []string{"v0.0.1", "v0.23.0"}},
		{"pkg:golang/golang.org/x/net@v0.1.0", "pkg:golang/golang.org/x/net", []string{"v0.1.0", "0.1.0"}, []string{"v0.1.1"}},
		{"pkg:golang/golang.org/x/net", "pkg:golang/golang.org/x/net", []string{"v0.1.0", ""}, nil},
		{"pkg:npm/%40scope/name@>=1.0.0|<2.0.0", "pkg:npm/%40scope/name", []string{"1.5.0"}, []string{"2.0.0"}},
	}
	for _, c := range cases {
		q, err := ParsePackageQuery(c.query)
		if err != nil {
			t.Fatalf("ParsePackageQuery(%q): %v", c.query, err)
		}
		if q.Base != c.base {
			t.Errorf("%q: base %q, want %q", c.query, q.Base, c.base)
		}
		for _, v := range c.in {
			if !q.Matches(v) {
				t.Errorf("%q should match %q", c.query, v)
			}
		}
		for _, v := range c.out {
			if q.Matches(v) {
				t.Errorf("%q should not match %q", c.query, v)
			}
		}
	}
}

func TestParseRefErrors(t *testing.T) {
	t.Parallel()
	for in, says := range map[string]string{
		"":                                "empty reference",
		"pkg:":                            "purl",
		"pkg:golang":                      "missing type or name",
		"pkg:golang/golang.org/x/net@<<1": "want a comparator",
		"pkg:golang/golang.org/x/net@vers:npm/<1": "vers:golang/CONSTRAINTS",
		"sha256:abc":                    "64 lower-case hex digits",
		"reg/x@sha256:abc":              "64 lower-case hex digits",
		"https://git.example/x@abc1234": "full commit",
		"widget/foo":                    "unknown kind",
		"Not A Ref!":                    "not a reference Kiln knows",
	} {
		_, err := ParseRef(in, "team")
		if err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("ParseRef(%q) = %v, want an error saying %q", in, err, says)
		}
	}
	if _, err := ParseRef("build/x", ""); err == nil || !strings.Contains(err.Error(), "namespace") {
		t.Errorf("a name without a namespace: %v", err)
	}
}

func TestParseRefKinds(t *testing.T) {
	t.Parallel()
	sha := strings.Repeat("ab", 20)
	dig := "sha256:" + strings.Repeat("cd", 32)
	for in, want := range map[string]lineage.Match{
		"build/lib-1":                        {Kind: lineage.KindBuild, Key: "lib-1", Namespace: "team"},
		"release/r1":                         {Kind: lineage.KindRelease, Key: "r1", Namespace: "team"},
		"lib-1":                              {Kind: lineage.KindBuild, Key: "lib-1", Namespace: "team"},
		dig:                                  {Kind: lineage.KindArtifact, Alt: dig},
		"reg.example/team/lib@" + dig:        {Kind: lineage.KindArtifact, Key: "reg.example/team/lib@" + dig},
		"git+https://git.example/lib/":       {Kind: lineage.KindSource, Key: "https://git.example/lib"},
		"https://u@git.example/lib@" + sha:   {Kind: lineage.KindCommit, Key: "https://u@git.example/lib@" + sha},
		sha:                                  {Kind: lineage.KindCommit, Alt: sha},
		"pkg:golang/golang.org/x/net@<1.0.0": {Kind: lineage.KindPackage, Alt: "pkg:golang/golang.org/x/net"},
	} {
		r, err := ParseRef(in, "team")
		if err != nil {
			t.Fatalf("ParseRef(%q): %v", in, err)
		}
		if r.Matches[0] != want {
			t.Errorf("ParseRef(%q) first match %+v, want %+v", in, r.Matches[0], want)
		}
	}
}

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"pkg:golang/golang.org/x/net@<0.23.0", "build/x", "sha256:" + strings.Repeat("a", 64),
		"https://h/x@" + strings.Repeat("a", 40), "pkg:npm/%40a/b@vers:npm/>=1|<2", "r@sha256:" + strings.Repeat("0", 64)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef(s, "team")
		if err != nil {
			return
		}
		if len(r.Matches) == 0 || r.What == "" {
			t.Fatalf("ParseRef(%q) accepted without selecting anything: %+v", s, r)
		}
		for _, m := range r.Matches {
			if m.Kind == "" || (m.Key == "" && m.Alt == "") {
				t.Fatalf("ParseRef(%q): unusable match %+v", s, m)
			}
		}
	})
}
