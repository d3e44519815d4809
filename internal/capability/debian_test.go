package capability

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/internal/golden"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

// TestDetectDebianGolden pins the sets of the Debian fixtures for amd64
// (default profiles, and nocheck).
func TestDetectDebianGolden(t *testing.T) {
	t.Parallel()
	cases := []struct {
		fixture, golden string
		opts            Options
	}{
		{"deb-libgreet", "deb-libgreet", Options{DebianArch: "amd64"}},
		{"deb-libgreet", "deb-libgreet-nocheck", Options{DebianArch: "amd64", DebianProfiles: []string{"nocheck"}}},
		{"deb-libgreet", "deb-libgreet-hurd", Options{DebianArch: "hurd-i386"}},
		{"deb-greet-cli", "deb-greet-cli", Options{DebianArch: "amd64"}},
	}
	for _, tc := range cases {
		t.Run(tc.golden, func(t *testing.T) {
			t.Parallel()
			s, err := DetectWith(filepath.Join("testdata", tc.fixture), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetIndent("", "  ")
			if err := enc.Encode(s); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", "golden", tc.golden+".json"), buf.Bytes())
		})
	}
}

// TestDebianComponentsResolve checks the two fixtures meet through
// deb(...) names: the CLI's libgreet-dev and greet-dev|libgreet-headers
// requirements resolve to the library.
func TestDebianComponentsResolve(t *testing.T) {
	t.Parallel()
	sets := map[string]*Set{}
	for _, name := range []string{"deb-libgreet", "deb-greet-cli"} {
		s, err := DetectWith(filepath.Join("testdata", name), Options{DebianArch: "amd64"})
		if err != nil {
			t.Fatal(err)
		}
		sets[name] = s
	}
	res, err := Resolve(sets, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Deps["deb-greet-cli"]; !slices.Equal(got, []string{"deb-libgreet"}) {
		t.Errorf("deb-greet-cli depends on %v, want [deb-libgreet]", got)
	}
}

func TestComponentOptionsNocheck(t *testing.T) {
	t.Parallel()
	comp := &v1alpha1.Component{}
	comp.Name = "libgreet"
	if got := ComponentOptions(comp); got.DebianProfiles != nil || !slices.Equal(got.Names, []string{"libgreet"}) {
		t.Errorf("no params: %+v", got)
	}
	comp.Spec.Build = &v1alpha1.ComponentBuild{Params: []v1alpha1.Param{{Name: "nocheck", Value: "false"}}}
	if got := ComponentOptions(comp); got.DebianProfiles != nil {
		t.Errorf("nocheck=false: %+v", got)
	}
	comp.Spec.Build.Params = []v1alpha1.Param{{Name: "nocheck", Value: "true"}}
	s, err := DetectWith(filepath.Join("testdata", "deb-libgreet"), ComponentOptions(comp))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range s.BuildRequires {
		if slices.Contains(r.Any, "deb(valgrind)") {
			t.Errorf("nocheck=true still requires valgrind (a <!nocheck> dependency): %v", r)
		}
	}
}

// TestStage1RelationsStayRequirements: a build dependency restricted to
// <!stage1> is a requirement (an edge of the cycle it closes), also for a
// component whose bootstrap params select stage1: those apply to its
// bootstrap build only, not to what it requires.
func TestStage1RelationsStayRequirements(t *testing.T) {
	t.Parallel()
	comp := &v1alpha1.Component{}
	comp.Name = "kiln-stage-a"
	comp.Spec.Build = &v1alpha1.ComponentBuild{Params: []v1alpha1.Param{{Name: "nocheck", Value: "true"}},
		Bootstrap: &v1alpha1.ComponentBootstrap{Params: []v1alpha1.Param{{Name: "profiles", Value: "stage1"}}}}
	s, err := DetectWith(filepath.Join("testdata", "deb-stage-a"), ComponentOptions(comp))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range s.BuildRequires {
		got = append(got, r.Any...)
	}
	if want := []string{"deb(debhelper-compat)", "deb(kiln-stage-b)"}; !slices.Equal(got, want) {
		t.Errorf("requires %v, want %v", got, want)
	}
}

// TestDebianComponentIgnoresOtherManifests: a component built by the
// debian pipeline is described by debian/control alone; an upstream RPM
// spec in its tree that the RPM detector rejects does not make its
// detection fail (it did, and the component dropped out of its
// dependency's cascade). Without the pipeline, the spec's error stands.
func TestDebianComponentIgnoresOtherManifests(t *testing.T) {
	t.Parallel()
	comp := &v1alpha1.Component{}
	comp.Name = "kiln-with-spec"
	comp.Spec.Build = &v1alpha1.ComponentBuild{PipelineRef: "debian"}
	set, err := DetectWith("testdata/deb-with-spec", ComponentOptions(comp))
	if err != nil {
		t.Fatalf("debian component: %v", err)
	}
	if !slices.Equal(set.Detected, []string{"debian"}) || !strings.Contains(fmt.Sprint(set.BuildRequires), "libevent-dev") {
		t.Fatalf("detected %v, requires %v", set.Detected, set.BuildRequires)
	}
	comp.Spec.Build.PipelineRef = ""
	if _, err := DetectWith("testdata/deb-with-spec", ComponentOptions(comp)); err == nil || !strings.Contains(err.Error(), ".spec") {
		t.Fatalf("without a packaging pipeline the spec's error must stand, got %v", err)
	}
}
