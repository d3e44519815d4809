package policy

import (
	"slices"
	"strings"
	"testing"
)

func taskCases() []ruleCase {
	pipeline := func(f func(pl map[string]any)) func(t *testing.T, in *Input) {
		return editProvenance(func(p map[string]any) { f(obj(p, "buildDefinition", "externalParameters", "pipeline")) })
	}
	return []ruleCase{
		{name: "pipeline not a resolved dependency", deny: []string{"tasks.pipeline_recorded"},
			mutate: editProvenance(func(p map[string]any) {
				bd := obj(p, "buildDefinition")
				bd["resolvedDependencies"] = slices.DeleteFunc(bd["resolvedDependencies"].([]any), func(d any) bool {
					return d.(map[string]any)["name"] == "pipeline"
				})
			})},
		{name: "pipeline without digest", deny: []string{"tasks.pipeline_recorded", "tasks.required_tasks_ran"}, msg: "repository:.kiln/pipeline.yaml (no digest)",
			mutate: pipeline(func(pl map[string]any) { delete(pl, "digest") })},
		{name: "required task missing from the pipeline", deny: []string{"tasks.required_tasks_ran"}, msg: "Required task 'sign'",
			ruleData: map[string]any{"required_tasks": []any{"clone", "sign"}}},
		{name: "missing task excluded by term",
			ruleData: map[string]any{"required_tasks": []any{"clone", "sign"}},
			exclude:  []string{"tasks.required_tasks_ran:sign"}},
		{name: "pipeline tasks recorded in the provenance win over rule data", deny: []string{"tasks.required_tasks_ran"}, msg: "Required task 'scan'",
			mutate: pipeline(func(pl map[string]any) { pl["tasks"] = []any{"clone", "build", "test"} })},
		{name: "pipeline digest unknown to rule data", deny: []string{"tasks.required_tasks_ran"},
			ruleData: map[string]any{"pipeline_tasks": map[string]any{}}},
	}
}

func sbomCases() []ruleCase {
	return []ruleCase{
		{name: "no SBOM", deny: []string{"sbom.present"},
			mutate: func(_ *testing.T, in *Input) { dropStatement(in, spdxType) }},
		{name: "SPDX 2.2", deny: []string{"sbom.spdx_valid"}, msg: "spdxVersion is 'SPDX-2.2', want one of SPDX-2.3",
			mutate: editSBOM(func(d map[string]any) { d["spdxVersion"] = "SPDX-2.2" })},
		{name: "no packages", deny: []string{"sbom.spdx_valid", "sbom.describes_image"}, msg: "it lists no packages",
			mutate: editSBOM(func(d map[string]any) { d["packages"] = []any{} })},
		{name: "SBOM of another image", deny: []string{"sbom.describes_image"},
			mutate: editSBOM(func(d map[string]any) {
				for _, p := range d["packages"].([]any) {
					for _, r := range p.(map[string]any)["externalRefs"].([]any) {
						ref := r.(map[string]any)
						ref["referenceLocator"] = strings.ReplaceAll(ref["referenceLocator"].(string), testDigest[7:], strings.Repeat("0", 64))
					}
				}
			})},
	}
}

func testCases() []ruleCase {
	return []ruleCase{
		{name: "failed test", deny: []string{"test.no_failed_tests"}, msg: "Test scenario 'lint' failed", mutate: setTest("lint", TestFailure)},
		{name: "erred test", deny: []string{"test.no_erred_tests"}, mutate: setTest("lint", TestError)},
		{name: "unknown result", deny: []string{"test.known_results"}, msg: "unknown result 'FAILED'", mutate: setTest("lint", "FAILED")},
		{name: "optional test failed", warn: []string{"test.optional_tests_passed"}, msg: "Optional test scenario 'perf' ended in FAILURE",
			mutate: setTest("perf", TestFailure)},
		{name: "optional but required test failed", deny: []string{"test.no_failed_tests"}, mutate: setTest("perf", TestFailure),
			ruleData: map[string]any{"required_test_scenarios": []any{"perf"}}},
		{name: "required scenario missing", deny: []string{"test.required_scenarios_ran"}, msg: "'e2e' did not run",
			mutate: func(_ *testing.T, in *Input) { in.Tests = in.Tests[1:] }},
		{name: "required scenario skipped", deny: []string{"test.required_scenarios_ran"}, warn: []string{"test.no_skipped_tests"},
			mutate: setTest("e2e", TestSkipped)},
		{name: "skipped test", warn: []string{"test.no_skipped_tests"}, mutate: setTest("lint", TestSkipped)},
		{name: "test warnings", warn: []string{"test.no_test_warnings"}, mutate: setTest("lint", TestWarning)},
		{name: "no tests, none required", ruleData: map[string]any{"required_test_scenarios": []any{}},
			mutate: func(_ *testing.T, in *Input) { in.Tests = nil }},
	}
}

func stepImageCases() []ruleCase {
	return []ruleCase{
		{name: "unpinned step image", warn: []string{"step_image.pinned"}, msg: "Step image alpine:3 is not pinned",
			mutate: editProvenance(func(p map[string]any) { addDependency(p, map[string]any{"uri": "oci://alpine:3"}) })},
	}
}
