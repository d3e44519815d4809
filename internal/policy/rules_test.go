package policy

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

const (
	slsaType = "https://slsa.dev/provenance/v1"
	spdxType = "https://spdx.dev/Document"
)

// ruleCase mutates the passing input (and optionally the rule data) and
// says which codes must be reported.
type ruleCase struct {
	name     string
	ruleData map[string]any
	exclude  []string // config.exclude
	mutate   func(t *testing.T, in *Input)
	deny     []string // codes of the violations, exactly
	warn     []string // codes of the warnings, exactly
	msg      string   // a substring of some violation's or warning's message
}

func TestShippedRules(t *testing.T) {
	for _, tc := range ruleCases() {
		t.Run(tc.name, func(t *testing.T) {
			spec := loadSpec(t, "policy.yaml")
			maps.Copy(spec.Sources[0].RuleData, tc.ruleData)
			if tc.exclude != nil {
				spec.Sources[0].Config = &v1alpha1.PolicyConfig{Exclude: tc.exclude}
			}
			in := loadInput(t)
			if tc.mutate != nil {
				tc.mutate(t, &in)
			}
			res := evalT(t, compileT(t, spec), in)
			checkCodes(t, "violations", res.Violations, tc.deny)
			checkCodes(t, "warnings", res.Warnings, tc.warn)
			if tc.msg != "" && !hasMsg(res, tc.msg) {
				t.Errorf("no message contains %q: %+v %+v", tc.msg, res.Violations, res.Warnings)
			}
		})
	}
}

// TestEveryShippedRuleIsTested checks that each shipped rule code is
// reported by some case of TestShippedRules.
func TestEveryShippedRuleIsTested(t *testing.T) {
	tested := map[string]bool{}
	for _, tc := range ruleCases() {
		for _, c := range append(tc.deny, tc.warn...) {
			tested[c] = true
		}
	}
	for _, r := range compileT(t, loadSpec(t, "policy.yaml")).Rules() {
		if !tested[r.Code] {
			t.Errorf("shipped rule %s (%s) has no failing test case", r.Code, r.Location)
		}
	}
}

func checkCodes(t *testing.T, what string, got []Result, want []string) {
	t.Helper()
	g := slices.Compact(codes(got))
	w := slices.Clone(want)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		t.Errorf("%s: got %v, want %v\n%+v", what, g, w, got)
	}
}

func hasMsg(res ComponentResult, sub string) bool {
	for _, r := range append(slices.Clone(res.Violations), res.Warnings...) {
		if strings.Contains(r.Msg, sub) {
			return true
		}
	}
	return false
}

// editStatement decodes the attestation of predicateType, lets edit change
// it, and encodes it back.
func editStatement(t *testing.T, in *Input, predicateType string, edit func(st map[string]any)) {
	t.Helper()
	for i, a := range in.Image.Attestations {
		var st map[string]any
		if err := json.Unmarshal(a.Statement, &st); err != nil {
			t.Fatal(err)
		}
		if st["predicateType"] != predicateType {
			continue
		}
		edit(st)
		in.Image.Attestations[i].Statement = mustJSON(t, st)
		return
	}
	t.Fatalf("no %s attestation", predicateType)
}

func dropStatement(in *Input, predicateType string) {
	in.Image.Attestations = slices.DeleteFunc(in.Image.Attestations, func(a Attestation) bool {
		var h statementHead
		return json.Unmarshal(a.Statement, &h) == nil && h.PredicateType == predicateType
	})
}

// obj walks st along keys (objects only).
func obj(st map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		st = st[k].(map[string]any)
	}
	return st
}

func editProvenance(f func(pred map[string]any)) func(t *testing.T, in *Input) {
	return func(t *testing.T, in *Input) {
		editStatement(t, in, slsaType, func(st map[string]any) { f(obj(st, "predicate")) })
	}
}

func editSBOM(f func(doc map[string]any)) func(t *testing.T, in *Input) {
	return func(t *testing.T, in *Input) {
		editStatement(t, in, spdxType, func(st map[string]any) { f(obj(st, "predicate")) })
	}
}

func addDependency(pred map[string]any, dep map[string]any) {
	bd := obj(pred, "buildDefinition")
	bd["resolvedDependencies"] = append(bd["resolvedDependencies"].([]any), dep)
}

func setTest(name, result string) func(t *testing.T, in *Input) {
	return func(t *testing.T, in *Input) {
		for i := range in.Tests {
			if in.Tests[i].Name == name {
				in.Tests[i].Result = result
				return
			}
		}
		t.Fatalf("no test %s", name)
	}
}

func ruleCases() []ruleCase {
	return slices.Concat(signatureCases(), attestationCases(), builderCases(), sourceCases(),
		provenanceCases(), taskCases(), sbomCases(), testCases(), stepImageCases())
}
