package policy

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

// inline reads testdata/rego/<name> as an inline module.
func inline(t testing.TB, name string) v1alpha1.RegoModule {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "rego", name))
	if err != nil {
		t.Fatal(err)
	}
	return v1alpha1.RegoModule{Name: name, Module: string(b)}
}

func customSpec(t testing.TB, ruleData map[string]any) v1alpha1.PolicySpec {
	return v1alpha1.PolicySpec{Name: "custom", Sources: []v1alpha1.PolicySource{{
		Name: "team", Rego: []v1alpha1.RegoModule{inline(t, "future.rego")}, RuleData: ruleData,
	}}}
}

func TestFutureDatedDenyOnlyWarns(t *testing.T) {
	in := loadInput(t)
	in.Image.Ref = testImage + ":latest"
	res := evalT(t, compileT(t, customSpec(t, map[string]any{"team": "greeters"})), in)
	checkCodes(t, "violations", res.Violations, nil)
	checkCodes(t, "warnings", res.Warnings, []string{"custom.no_latest"})
	if got := res.Warnings[0].EffectiveOn; got != "2027-01-01T00:00:00Z" {
		t.Errorf("effective_on = %q", got)
	}

	// Once effective, it denies.
	eng, err := Compile(context.Background(), customSpec(t, map[string]any{"team": "greeters"}),
		func() time.Time { return time.Date(2027, 1, 1, 0, 0, 1, 0, time.UTC) })
	if err != nil {
		t.Fatal(err)
	}
	res = evalT(t, eng, in)
	checkCodes(t, "violations", res.Violations, []string{"custom.no_latest"})
}

func TestFutureDatedRuleIsNoSuccessYet(t *testing.T) {
	res := evalT(t, compileT(t, customSpec(t, map[string]any{"team": "greeters"})), loadInput(t))
	if got := codes(res.Successes); !slices.Equal(got, []string{"custom.team_set"}) {
		t.Errorf("successes = %v, want only custom.team_set (no_latest is not effective yet)", got)
	}
}

func TestRuleDataOverDefaults(t *testing.T) {
	spec := customSpec(t, map[string]any{"team": "painters"})
	spec.Sources[0].Rego = append(spec.Sources[0].Rego, v1alpha1.RegoModule{Name: "defaults.rego", Module: `package policy.release.defaults
import rego.v1
import data.lib
# METADATA
# custom:
#   short_name: kiln_defaults_present
#   failure_msg: shipped default rule data is missing
deny contains result if {
	not "https://kiln.dev/build/v1" in lib.rule_data("allowed_build_types")
	result := lib.result_helper(rego.metadata.chain(), [])
}`})
	res := evalT(t, compileT(t, spec), loadInput(t))
	checkCodes(t, "violations", res.Violations, []string{"custom.team_set"})
	if !hasMsg(res, `Rule data team is "painters", want "greeters"`) {
		t.Errorf("messages: %+v", res.Violations)
	}
	if !slices.Contains(codes(res.Successes), "defaults.kiln_defaults_present") {
		t.Errorf("defaults not visible: %+v", res)
	}
}

func TestPortedConformaRule(t *testing.T) {
	spec := v1alpha1.PolicySpec{Sources: []v1alpha1.PolicySource{{Rego: []v1alpha1.RegoModule{inline(t, "conforma_port.rego")}}}}
	eng := compileT(t, spec)
	in := loadInput(t)
	res := evalT(t, eng, in)
	if got := codes(res.Successes); !slices.Equal(got, []string{"ported.build_log", "ported.builder_id_found"}) {
		t.Fatalf("successes = %v", got)
	}
	editStatement(t, &in, slsaType, func(st map[string]any) {
		rd := obj(st, "predicate", "runDetails")
		delete(rd, "byproducts")
		delete(obj(rd, "builder"), "id")
	})
	res = evalT(t, eng, in)
	checkCodes(t, "violations", res.Violations, []string{"ported.builder_id_found"})
	checkCodes(t, "warnings", res.Warnings, []string{"ported.build_log"})
	if got := res.Violations[0].Collections; !slices.Equal(got, []string{"redhat"}) {
		t.Errorf("collections = %v", got)
	}
}

func TestIncludeExclude(t *testing.T) {
	minimal := []string{"attestation_type.known_attestation_type", "attestation_type.provenance_present",
		"builder.kiln_build_type", "builder.trusted_builder_id", "signature.evidence_verified", "signature.image_signed",
		"source.pinned_commit"}
	for _, tc := range []struct {
		name             string
		include, exclude []string
		wantIn, wantOut  []string
	}{
		{name: "everything by default", wantIn: []string{"builder.isolated_steps", "sbom.describes_image", "step_image.pinned"}},
		{name: "@minimal leaves out slsa3-only rules", include: []string{"@minimal"},
			wantIn: minimal, wantOut: []string{"builder.isolated_steps", "source.matches_snapshot", "provenance.invocation_id", "sbom.describes_image"}},
		{name: "@slsa3 is minimal plus more", include: []string{"@slsa3"},
			wantIn: append(slices.Clone(minimal), "builder.isolated_steps", "source.matches_snapshot", "provenance.invocation_id", "sbom.describes_image")},
		{name: "exclude a package", exclude: []string{"test"}, wantIn: []string{"sbom.present"}, wantOut: []string{"test.no_failed_tests", "test.no_skipped_tests"}},
		{name: "exclude a rule", exclude: []string{"sbom.describes_image"}, wantIn: []string{"sbom.present"}, wantOut: []string{"sbom.describes_image"}},
		{name: "rule include beats package exclude", include: []string{"sbom.present"}, exclude: []string{"sbom"},
			wantIn: []string{"sbom.present"}, wantOut: []string{"sbom.spdx_valid", "signature.image_signed"}},
		{name: "exclude wins a tie", include: []string{"sbom"}, exclude: []string{"@minimal"}, wantOut: []string{"sbom.present"},
			wantIn: []string{"sbom.describes_image"}},
		{name: "package exclude beats collection include", include: []string{"@minimal"}, exclude: []string{"sbom.*"},
			wantIn: []string{"signature.image_signed"}, wantOut: []string{"sbom.present"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := loadSpec(t, "policy.yaml")
			spec.Sources[0].Config = &v1alpha1.PolicyConfig{Include: tc.include, Exclude: tc.exclude}
			got := codes(evalT(t, compileT(t, spec), loadInput(t)).Successes)
			for _, c := range tc.wantIn {
				if !slices.Contains(got, c) {
					t.Errorf("%s not in scope: %v", c, got)
				}
			}
			for _, c := range tc.wantOut {
				if slices.Contains(got, c) {
					t.Errorf("%s in scope: %v", c, got)
				}
			}
		})
	}
}

func TestExcludedViolationIsDropped(t *testing.T) {
	spec := loadSpec(t, "policy.yaml")
	spec.Sources[0].Config = &v1alpha1.PolicyConfig{Exclude: []string{"sbom"}}
	in := loadInput(t)
	dropStatement(&in, spdxType)
	res := evalT(t, compileT(t, spec), in)
	checkCodes(t, "violations", res.Violations, nil)
}

func TestSourcesCombine(t *testing.T) {
	spec := loadSpec(t, "policy.yaml")
	// A second source with the shipped rules and no tests required: the
	// first source still fails the missing scenario, so it is no success.
	spec.Sources = append(spec.Sources, v1alpha1.PolicySource{Name: "lenient", Policy: []string{"builtin:kiln"},
		Config: &v1alpha1.PolicyConfig{Include: []string{"test"}}})
	in := loadInput(t)
	in.Tests = in.Tests[1:]
	res := evalT(t, compileT(t, spec), in)
	checkCodes(t, "violations", res.Violations, []string{"test.required_scenarios_ran"})
	if slices.Contains(codes(res.Successes), "test.required_scenarios_ran") {
		t.Error("a code that failed in one source is listed as a success")
	}
	if n := len(codes(res.Successes)); n != len(slices.Compact(codes(res.Successes))) {
		t.Errorf("duplicate successes: %v", codes(res.Successes))
	}
}

func TestPlainStringResults(t *testing.T) {
	spec := v1alpha1.PolicySpec{Sources: []v1alpha1.PolicySource{{Rego: []v1alpha1.RegoModule{{Name: "plain.rego", Module: `package policy.release.plain
import rego.v1
# METADATA
# custom:
#   short_name: says_no
#   failure_msg: no
deny contains "plain message" if true
# METADATA
# custom:
#   short_name: other
#   failure_msg: other
warn contains "w" if false`}}}}}
	res := evalT(t, compileT(t, spec), loadInput(t))
	if len(res.Violations) != 1 || res.Violations[0].Code != "plain" || res.Violations[0].Msg != "plain message" {
		t.Errorf("violations = %+v", res.Violations)
	}
	if len(res.Successes) != 0 {
		t.Errorf("rules of a package with an anonymous failure are no successes: %v", codes(res.Successes))
	}
}

func TestEvaluateNamesComponents(t *testing.T) {
	eng := compileT(t, loadSpec(t, "policy.yaml"))
	in := loadInput(t)
	if got := evalT(t, eng, in).Name; got != "greet" {
		t.Errorf("name = %q", got)
	}
	in.Kiln.Component = ""
	if got := evalT(t, eng, in).Name; got != "greet" {
		t.Errorf("name from the snapshot = %q", got)
	}
	res, err := eng.Evaluate(context.Background(), "explicit", in)
	if err != nil || res.Name != "explicit" || !strings.HasPrefix(res.Image, testImage+"@sha256:") {
		t.Errorf("got %+v, %v", res, err)
	}
}
