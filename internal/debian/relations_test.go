package debian

import (
	"reflect"
	"strings"
	"testing"
)

// TestDroppedBy: the build dependencies a profile drops are those
// restricted to its absence, on the architecture, with the profiles
// already active; relations it adds, keeps or that do not apply anyway
// are not.
func TestDroppedBy(t *testing.T) {
	c, err := ParseControl(strings.NewReader(`Source: kiln-stage-a
Maintainer: A <a@example.org>
Build-Depends: debhelper-compat (= 13), kiln-stage-b <!stage1>,
 libc <!stage1 !nocheck>, check <!nocheck>, helper <stage1>,
 xa | ya <!stage1>, armonly <!stage1> [arm64], always <!stage2>
Build-Depends-Indep: doc <!stage1>

Package: kiln-stage-a
Architecture: any
Description: a
`))
	if err != nil {
		t.Fatal(err)
	}
	names := func(rs []Relation) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Field+": "+r.String())
		}
		return out
	}
	for _, tc := range []struct {
		arch   string
		active []string
		want   []string
	}{
		{"amd64", nil, []string{"Build-Depends: kiln-stage-b", "Build-Depends: libc", "Build-Depends: xa | ya", "Build-Depends-Indep: doc"}},
		{"amd64", []string{"nocheck"}, []string{"Build-Depends: kiln-stage-b", "Build-Depends: xa | ya", "Build-Depends-Indep: doc"}},
		{"arm64", nil, []string{"Build-Depends: kiln-stage-b", "Build-Depends: libc", "Build-Depends: xa | ya", "Build-Depends: armonly", "Build-Depends-Indep: doc"}},
	} {
		if got := names(c.Source.DroppedBy(tc.arch, tc.active, "stage1")); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s %v: dropped %q, want %q", tc.arch, tc.active, got, tc.want)
		}
	}
	if got := c.Source.DroppedBy("amd64", nil, "stage3"); got != nil {
		t.Errorf("stage3 drops %v", names(got))
	}
}
