// Package integration runs IntegrationTestScenarios against Snapshots.
// Each scenario's pipeline runs in the build sandbox with the Snapshot as
// its SNAPSHOT param and the Snapshot's artifacts read-only under
// /kiln/deps/<component>; it reports a TEST_OUTPUT result. The Snapshot's
// status.tests holds one entry per scenario, and its TestsPassed condition
// says whether every blocking scenario passed.
//
// Pure functions decide (Select, Sync, Rerun, Verdict, ParseTestOutput);
// the controller applies them.
package integration

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

// Contexts a scenario can be scoped to (Konflux's names).
const (
	ContextApplication = "application"
	ContextComponent   = "component"
	ContextGroup       = "group"
	ContextOverride    = "override"
	ContextPush        = "push"
	ContextPullRequest = "pull_request"
	// ContextComponentPrefix + name scopes to Snapshots made for one
	// component's builds.
	ContextComponentPrefix = "component_"
)

// Applies reports whether a scenario runs for a Snapshot: a scenario
// without contexts runs for every Snapshot; otherwise one context must
// match.
func Applies(its *v1alpha1.IntegrationTestScenario, s *v1alpha1.Snapshot, component string) bool {
	if its.Spec.Application != s.Spec.Application {
		return false
	}
	if len(its.Spec.Contexts) == 0 {
		return true
	}
	typ, event := s.Labels[v1alpha1.LabelSnapshotType], s.Labels[v1alpha1.LabelEventType]
	for _, c := range its.Spec.Contexts {
		switch {
		case c.Name == ContextApplication,
			c.Name == ContextComponent && typ == v1alpha1.SnapshotTypeComponent,
			c.Name == ContextGroup && typ == v1alpha1.SnapshotTypeGroup,
			c.Name == ContextOverride && typ == v1alpha1.SnapshotTypeOverride,
			c.Name == ContextPush && event == v1alpha1.EventPush,
			c.Name == ContextPullRequest && event == v1alpha1.EventPullRequest,
			component != "" && c.Name == ContextComponentPrefix+component:
			return true
		}
	}
	return false
}

// Select returns the scenarios that apply, by name.
func Select(all []*v1alpha1.IntegrationTestScenario, s *v1alpha1.Snapshot, component string) []*v1alpha1.IntegrationTestScenario {
	var out []*v1alpha1.IntegrationTestScenario
	for _, its := range all {
		if Applies(its, s, component) {
			out = append(out, its)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Initial is the tests list of a Snapshot seen for the first time.
func Initial(scenarios []*v1alpha1.IntegrationTestScenario) []v1alpha1.SnapshotTest {
	out := []v1alpha1.SnapshotTest{}
	for _, its := range scenarios {
		out = append(out, v1alpha1.SnapshotTest{Scenario: its.Name, Optional: its.IsOptional(), State: v1alpha1.TestPending})
	}
	return out
}

// Rerun resets the tests a LabelTestRun value asks for: a scenario name,
// "failed" or "all". Scenarios that apply but have no entry yet are added
// for "all" and for their own name. It reports an error for a name that
// is not a scenario of the Snapshot.
func Rerun(tests []v1alpha1.SnapshotTest, what string, scenarios []*v1alpha1.IntegrationTestScenario) ([]v1alpha1.SnapshotTest, error) {
	out := append([]v1alpha1.SnapshotTest(nil), tests...)
	have := map[string]bool{}
	for i := range out {
		have[out[i].Scenario] = true
		t := &out[i]
		if what == "all" || what == t.Scenario || what == "failed" && t.State == v1alpha1.TestFinished && !t.Passed() {
			t.State, t.Result, t.Note, t.Interrupted = v1alpha1.TestPending, "", "", false
		}
	}
	found := what == "all" || what == "failed" || have[what]
	for _, its := range scenarios {
		if !have[its.Name] && (what == "all" || what == its.Name) {
			out = append(out, v1alpha1.SnapshotTest{Scenario: its.Name, Optional: its.IsOptional(), State: v1alpha1.TestPending})
			found = true
		}
	}
	if !found {
		return tests, fmt.Errorf("%s=%q: no such scenario for this snapshot (use a scenario name, \"failed\" or \"all\")", v1alpha1.LabelTestRun, what)
	}
	return out, nil
}

// Interrupt ends the runs a crash interrupted: tests left Running that
// this process does not run (running says which it does). A test's first
// interruption puts it back to Pending (it runs again once); a second ends
// it with ERROR. Each interrupted run is recorded. It reports whether
// anything changed.
func Interrupt(tests []v1alpha1.SnapshotTest, running func(scenario string) bool, now metav1.Time) bool {
	changed := false
	for i := range tests {
		t := &tests[i]
		if t.State != v1alpha1.TestRunning || running(t.Scenario) {
			continue
		}
		EndRun(t, v1alpha1.SnapshotTestRun{Interrupted: true, Note: "interrupted by a server restart", CompletionTime: &now})
		if t.Interrupted {
			t.State, t.Result, t.CompletionTime = v1alpha1.TestFinished, v1alpha1.ResultError, &now
			t.Note = "interrupted twice by a server restart; not run again (re-run it with " + v1alpha1.LabelTestRun + ")"
		} else {
			t.State, t.Interrupted, t.Note = v1alpha1.TestPending, true, "interrupted by a server restart; running again once"
		}
		changed = true
	}
	return changed
}

// StartRun records a new run of t.
func StartRun(t *v1alpha1.SnapshotTest, now metav1.Time) {
	t.State, t.Attempts, t.StartTime, t.CompletionTime, t.Note = v1alpha1.TestRunning, t.Attempts+1, &now, nil, ""
	t.Runs = append(t.Runs, v1alpha1.SnapshotTestRun{Attempt: t.Attempts, StartTime: &now})
	if n := len(t.Runs); n > v1alpha1.MaxTestRuns {
		t.Runs = append([]v1alpha1.SnapshotTestRun(nil), t.Runs[n-v1alpha1.MaxTestRuns:]...)
	}
}

// EndRun records how t's current run ended (end's attempt and start are
// taken from the run being ended).
func EndRun(t *v1alpha1.SnapshotTest, end v1alpha1.SnapshotTestRun) {
	n := len(t.Runs)
	if n == 0 || t.Runs[n-1].Attempt != t.Attempts || t.Runs[n-1].CompletionTime != nil {
		t.Runs = append(t.Runs, v1alpha1.SnapshotTestRun{Attempt: t.Attempts, StartTime: t.StartTime})
		n++
	}
	end.Attempt, end.StartTime = t.Runs[n-1].Attempt, t.Runs[n-1].StartTime
	t.Runs[n-1] = end
}

// Verdict is the TestsPassed condition: status ("True", "False",
// "Unknown"), reason and message.
func Verdict(tests []v1alpha1.SnapshotTest) (status, reason, message string) {
	var pending, failed, optFailed []string
	for _, t := range tests {
		switch {
		case t.State != v1alpha1.TestFinished:
			if !t.Optional {
				pending = append(pending, t.Scenario)
			}
		case !t.Passed() && t.Optional:
			optFailed = append(optFailed, t.Scenario)
		case !t.Passed():
			failed = append(failed, t.Scenario+" ("+t.Result+")")
		}
	}
	switch {
	case len(failed) > 0:
		return "False", "Failed", "required tests failed: " + strings.Join(failed, ", ")
	case len(pending) > 0:
		return "Unknown", "InProgress", "waiting for " + strings.Join(pending, ", ")
	case len(tests) == 0:
		return "True", "NoScenarios", "no IntegrationTestScenario applies"
	case len(optFailed) > 0:
		return "True", "Passed", "all required tests passed; optional tests failed: " + strings.Join(optFailed, ", ")
	}
	return "True", "Passed", "all required tests passed"
}

// TestOutput is the TEST_OUTPUT result a scenario's pipeline reports.
type TestOutput struct {
	Result    string `json:"result"`
	Successes int    `json:"successes"`
	Failures  int    `json:"failures"`
	Warnings  int    `json:"warnings"`
	Note      string `json:"note"`
	Timestamp string `json:"timestamp,omitempty"`
}

// ParseTestOutput reads TEST_OUTPUT; the result must be one of SUCCESS,
// FAILURE, WARNING, SKIPPED or ERROR.
func ParseTestOutput(s string) (TestOutput, error) {
	var out TestOutput
	if err := json.Unmarshal([]byte(strings.TrimSpace(s)), &out); err != nil {
		return out, fmt.Errorf("TEST_OUTPUT is not JSON like {\"result\":\"SUCCESS\",\"successes\":1,\"failures\":0,\"warnings\":0}: %v", err)
	}
	switch out.Result {
	case v1alpha1.ResultSuccess, v1alpha1.ResultFailure, v1alpha1.ResultWarning, v1alpha1.ResultSkipped, v1alpha1.ResultError:
		return out, nil
	}
	return out, fmt.Errorf("TEST_OUTPUT result %q: want SUCCESS, FAILURE, WARNING, SKIPPED or ERROR", out.Result)
}

// SnapshotParam is the SNAPSHOT param: the Snapshot's spec as JSON, the
// shape Konflux passes to integration pipelines.
func SnapshotParam(s *v1alpha1.Snapshot) string {
	b, _ := json.Marshal(s.Spec)
	return string(b)
}
