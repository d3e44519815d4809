package trace

import (
	"strings"
	"testing"
)

func TestVersionRangeContains(t *testing.T) {
	t.Parallel()
	cases := []struct {
		scheme, rng string
		in, out     []string
	}{
		{"golang", "<0.23.0", []string{"v0.1.0", "v0.22.9", "0.22.0", "v0.23.0-rc.1", "v0.0.0-20230101000000-abcdefabcdef"}, []string{"v0.23.0", "v0.23.1", "v1.0.0"}},
		{"golang", ">=v0.1.0|<0.23.0", []string{"v0.1.0", "v0.22.0"}, []string{"v0.0.9", "v0.23.0"}},
		{"golang", "<=0.5.0|>=1.0.0", []string{"v0.5.0", "v1.0.0", "v2.3.4"}, []string{"v0.6.0", "v0.9.9"}},
		{"golang", "0.3.0|>=1.0.0|<1.2.0", []string{"v0.3.0", "v1.1.0"}, []string{"v0.3.1", "v1.2.0", "v0.9.0"}},
		{"npm", "!=4.17.20|>=4.0.0|<4.17.21", []string{"4.0.0", "4.17.19"}, []string{"4.17.20", "4.17.21", "3.9.9"}},
		{"npm", "!=1.0.0", []string{"1.0.1", "0.9.0"}, []string{"1.0.0"}},
		{"npm", "1.2.3", []string{"1.2.3", "v1.2.3"}, []string{"1.2.4"}},
		{"npm", "*", []string{"1.0.0", "anything"}, nil},
		{"rpm", ">=1.10|<1.2~rc1", nil, nil}, // validated below
		{"rpm", ">=1.9|<1.10", []string{"1.9", "1.9.5"}, []string{"1.10", "1.8", "1.10.1"}},
		{"deb", "<2.0", []string{"2.0~rc1", "1.99"}, []string{"2.0", "2.0.1"}},
		{"generic", ">1.0a|<1.0b", []string{"1.0ab"}, []string{"1.0a", "1.0b"}},
	}
	for _, c := range cases {
		r, err := ParseVersionRange(c.scheme, c.rng)
		if err != nil {
			if len(c.in)+len(c.out) == 0 {
				continue
			}
			t.Fatalf("ParseVersionRange(%s, %q): %v", c.scheme, c.rng, err)
		}
		for _, v := range c.in {
			if !r.Contains(v) {
				t.Errorf("%s %q should contain %s", c.scheme, c.rng, v)
			}
		}
		for _, v := range c.out {
			if r.Contains(v) {
				t.Errorf("%s %q should not contain %s", c.scheme, c.rng, v)
			}
		}
	}
}

func TestVersionRangeRejectsMalformed(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ scheme, rng, says string }{
		{"golang", "", "empty version range"},
		{"golang", "<", "want a comparator"},
		{"golang", "<<1.0.0", "want a comparator"},
		{"golang", "<1.0.0||>2.0.0", "empty constraint"},
		{"golang", ">=1.0.0,<2.0.0", "separate constraints with |"},
		{"golang", "<banana", "not a Go module version"},
		{"golang", "<1.0.0|<2.0.0", "two < bounds in a row"},
		{"npm", ">=1.0.0|>=2.0.0", "two > bounds in a row"},
		{"npm", "1.0.0|=1.0.0", "appears twice"},
		{"npm", ">= 1.0.0 x", "want a comparator"},
	} {
		_, err := ParseVersionRange(c.scheme, c.rng)
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("ParseVersionRange(%s, %q) = %v, want an error saying %q", c.scheme, c.rng, err, c.says)
		}
	}
}

func TestCompareVersions(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		scheme, a, b string
		want         int
	}{
		{"golang", "v1.2.3", "1.2.3", 0},
		{"golang", "v1.10.0", "v1.9.0", 1},
		{"golang", "v1.0.0-rc.1", "v1.0.0", -1},
		{"npm", "2.0.0", "10.0.0", -1},
		{"npm", "latest", "1.0.0", -1}, // not semver: segment-wise, letters before digits
		{"rpm", "1.10", "1.9", 1},
		{"rpm", "1.0~rc1", "1.0", -1},
		{"rpm", "1.0a", "1.0", 1},
		{"rpm", "007", "7", 0},
		{"maven", "1.0.0.Final", "1.0.0", 1},
	} {
		if got := CompareVersions(c.scheme, c.a, c.b); got != c.want {
			t.Errorf("CompareVersions(%s, %s, %s) = %d, want %d", c.scheme, c.a, c.b, got, c.want)
		}
		if got := CompareVersions(c.scheme, c.b, c.a); got != -c.want {
			t.Errorf("CompareVersions(%s, %s, %s) = %d, want %d (antisymmetry)", c.scheme, c.b, c.a, got, -c.want)
		}
	}
}

func FuzzVersionRange(f *testing.F) {
	for _, s := range []string{"<0.23.0", ">=1.0.0|<2.0.0", "!=1.0|*", "1.0.0|>=2.0.0", "vers:npm/1", "~1.0", "<=1.0~rc|>0"} {
		f.Add("golang", s, "v0.22.0")
		f.Add("rpm", s, "1.0~rc1")
	}
	f.Fuzz(func(t *testing.T, scheme, rng, v string) {
		r, err := ParseVersionRange(scheme, rng)
		if err != nil {
			return
		}
		_ = r.Contains(v) // must not panic
		again, err := ParseVersionRange(scheme, strings.TrimPrefix(r.String(), "vers:"+r.scheme+"/"))
		if err != nil {
			t.Fatalf("String() %q does not parse back: %v", r.String(), err)
		}
		if again.Contains(v) != r.Contains(v) {
			t.Fatalf("%q and its rendering %q disagree on %q", rng, r.String(), v)
		}
		if CompareVersions(scheme, v, v) != 0 {
			t.Fatalf("CompareVersions(%q, %q) is not 0", v, v)
		}
	})
}
