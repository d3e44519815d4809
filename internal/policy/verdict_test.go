package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/golden"
)

// snapshotInputs are the two components of the test snapshot: greet
// passes; web has a failed test and a future-dated custom rule warns.
func snapshotInputs(t testing.TB) []Input {
	greet := loadInput(t)
	web := loadInput(t)
	web.Kiln.Component = "web"
	web.Image.Ref = "kiln.example.com/team/web:latest"
	web.Tests[1].Result = TestFailure
	web.Kiln.VerifyErrors = []string{"attestation layer 2 (https://cyclonedx.org/bom): attestation signature invalid"}
	return []Input{greet, web}
}

func verdictSpec(t testing.TB) v1alpha1.PolicySpec {
	spec := loadSpec(t, "policy.yaml")
	spec.Sources[0].Config = &v1alpha1.PolicyConfig{Include: []string{"@minimal"}}
	spec.Sources = append(spec.Sources, customSpec(t, map[string]any{"team": "greeters"}).Sources...)
	return spec
}

func TestEvaluateVerdict(t *testing.T) {
	v := Evaluate(context.Background(), compileT(t, verdictSpec(t)), snapshotInputs(t))
	if v.Success || len(v.Components) != 2 || !v.EvaluatedAt.Equal(fixedNow()) {
		t.Fatalf("verdict: %+v", v)
	}
	greet, web := v.Components[0], v.Components[1]
	if !greet.Passed() || greet.Name != "greet" {
		t.Errorf("greet: %+v", greet)
	}
	checkCodes(t, "web violations", web.Violations, []string{"signature.evidence_verified", "test.no_failed_tests"})
	checkCodes(t, "web warnings", web.Warnings, []string{"custom.no_latest"})
	if v.Policy.Name != "team release policy" || !strings.HasPrefix(v.Policy.Digest, "sha256:") {
		t.Errorf("policy: %+v", v.Policy)
	}
	b, err := json.Marshal(v)
	if err != nil || !bytes.Contains(b, []byte(`"evaluatedAt":"2026-11-15T12:00:00Z"`)) {
		t.Errorf("JSON: %s %v", b, err)
	}
}

func TestEvaluateFailsClosed(t *testing.T) {
	spec := loadSpec(t, "policy.yaml")
	spec.Sources = append(spec.Sources, v1alpha1.PolicySource{Name: "boom", Rego: []v1alpha1.RegoModule{inline(t, "boom.rego")}})
	v := Evaluate(context.Background(), compileT(t, spec), snapshotInputs(t))
	web := v.Components[1]
	if v.Success || len(web.Violations) != 1 || web.Violations[0].Code != CodeEvaluationError {
		t.Fatalf("web: %+v", web)
	}
	wantAll(t, web.Violations[0].Msg, "component web", `source "boom"`, "boom.rego:11")
	if web.Warnings == nil || web.Successes == nil {
		t.Error("nil lists encode as null")
	}
	if !v.Components[0].Passed() {
		t.Errorf("greet: %+v", v.Components[0])
	}
}

func TestEvaluateNothing(t *testing.T) {
	v := Evaluate(context.Background(), compileT(t, verdictSpec(t)), nil)
	if v.Success {
		t.Error("an empty snapshot is no success")
	}
}

func TestSummary(t *testing.T) {
	v := Evaluate(context.Background(), compileT(t, verdictSpec(t)), snapshotInputs(t))
	got := v.Summary()
	want := []string{
		"policy team release policy: FAILED (1 of 2 components failed, evaluated 2026-11-15T12:00:00Z)",
		"greet (kiln.example.com/team/greet@" + testDigest + "): 0 violations, 0 warnings, 20 successes",
		"web (kiln.example.com/team/web:latest): 2 violations, 1 warning, 18 successes",
		"  FAIL signature.evidence_verified: Verification failed: attestation layer 2 (https://cyclonedx.org/bom): attestation signature invalid",
		"  FAIL test.no_failed_tests: Test scenario 'lint' failed",
		"  warn custom.no_latest: Image kiln.example.com/team/web:latest uses the latest tag (effective from 2027-01-01T00:00:00Z)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("summary:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestJUnit(t *testing.T) {
	v := Evaluate(context.Background(), compileT(t, verdictSpec(t)), snapshotInputs(t))
	got, err := v.JUnit()
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "verdict.junit.xml"), got)
	var parsed junitSuites
	if err := xml.Unmarshal(got, &parsed); err != nil {
		t.Fatal(err)
	}
	if parsed.Tests != 20+21 || parsed.Failures != 2 || len(parsed.Suites) != 2 || parsed.Suites[1].Failures != 2 {
		t.Errorf("counts: tests %d failures %d suites %d", parsed.Tests, parsed.Failures, len(parsed.Suites))
	}
}

func TestEvaluateConcurrently(t *testing.T) {
	inputs := slices.Repeat(snapshotInputs(t), 8)
	v := Evaluate(context.Background(), compileT(t, verdictSpec(t)), inputs)
	for i, c := range v.Components {
		if want := i%2 == 0; c.Passed() != want {
			t.Errorf("component %d (%s) passed = %v", i, c.Name, c.Passed())
		}
	}
}
