package integration

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

func scenario(name, app string, contexts ...string) *v1alpha1.IntegrationTestScenario {
	its := &v1alpha1.IntegrationTestScenario{}
	its.Name = name
	its.Spec.Application = app
	for _, c := range contexts {
		its.Spec.Contexts = append(its.Spec.Contexts, v1alpha1.TestContext{Name: c})
	}
	return its
}

func optional(its *v1alpha1.IntegrationTestScenario) *v1alpha1.IntegrationTestScenario {
	its.Labels = map[string]string{v1alpha1.LabelTestOptional: "true"}
	return its
}

func snapshotOf(app, typ, event string) *v1alpha1.Snapshot {
	s := &v1alpha1.Snapshot{}
	s.Name = app + "-snap"
	s.Spec.Application = app
	s.Labels = map[string]string{v1alpha1.LabelSnapshotType: typ, v1alpha1.LabelEventType: event}
	return s
}

func TestApplies(t *testing.T) {
	t.Parallel()
	var (
		componentPush = snapshotOf("shop", v1alpha1.SnapshotTypeComponent, v1alpha1.EventPush)
		componentPR   = snapshotOf("shop", v1alpha1.SnapshotTypeComponent, v1alpha1.EventPullRequest)
		groupPush     = snapshotOf("shop", v1alpha1.SnapshotTypeGroup, v1alpha1.EventPush)
		override      = snapshotOf("shop", v1alpha1.SnapshotTypeOverride, "")
	)
	tests := []struct {
		name      string
		its       *v1alpha1.IntegrationTestScenario
		snap      *v1alpha1.Snapshot
		component string
		want      bool
	}{
		{"no contexts: component snapshot", scenario("all", "shop"), componentPush, "api", true},
		{"no contexts: override snapshot", scenario("all", "shop"), override, "", true},
		{"no contexts: other application", scenario("all", "blog"), componentPush, "api", false},
		{"application: any snapshot", scenario("a", "shop", ContextApplication), groupPush, "", true},
		{"application: other application", scenario("a", "blog", ContextApplication), groupPush, "", false},
		{"component: component snapshot", scenario("c", "shop", ContextComponent), componentPR, "api", true},
		{"component: group snapshot", scenario("c", "shop", ContextComponent), groupPush, "", false},
		{"component: override snapshot", scenario("c", "shop", ContextComponent), override, "", false},
		{"component_api: build of api", scenario("c", "shop", "component_api"), componentPush, "api", true},
		{"component_api: build of web", scenario("c", "shop", "component_api"), componentPush, "web", false},
		{"component_api: no component given", scenario("c", "shop", "component_api"), groupPush, "", false},
		{"component_: empty component never matches", scenario("c", "shop", "component_"), groupPush, "", false},
		{"group: group snapshot", scenario("g", "shop", ContextGroup), groupPush, "", true},
		{"group: component snapshot", scenario("g", "shop", ContextGroup), componentPush, "api", false},
		{"override: override snapshot", scenario("o", "shop", ContextOverride), override, "", true},
		{"override: group snapshot", scenario("o", "shop", ContextOverride), groupPush, "", false},
		{"push: push snapshot", scenario("p", "shop", ContextPush), groupPush, "", true},
		{"push: pull request snapshot", scenario("p", "shop", ContextPush), componentPR, "api", false},
		{"pull_request: pull request snapshot", scenario("pr", "shop", ContextPullRequest), componentPR, "api", true},
		{"pull_request: push snapshot", scenario("pr", "shop", ContextPullRequest), componentPush, "api", false},
		{"pull_request: override without event", scenario("pr", "shop", ContextPullRequest), override, "", false},
		{"unknown context never matches", scenario("x", "shop", "nightly"), componentPush, "api", false},
		{"one of several contexts matches", scenario("m", "shop", ContextPullRequest, ContextGroup), groupPush, "", true},
		{"none of several contexts matches", scenario("m", "shop", ContextPullRequest, ContextGroup), componentPush, "api", false},
		{"contexts do not override the application", scenario("m", "blog", ContextPush, "component_api"), componentPush, "api", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Applies(tt.its, tt.snap, tt.component); got != tt.want {
				t.Errorf("Applies(contexts %v, snapshot %v, %q) = %v, want %v", tt.its.Spec.Contexts, tt.snap.Labels, tt.component, got, tt.want)
			}
		})
	}
}

func names(its []*v1alpha1.IntegrationTestScenario) []string {
	var out []string
	for _, s := range its {
		out = append(out, s.Name)
	}
	return out
}

func TestSelect(t *testing.T) {
	t.Parallel()
	all := []*v1alpha1.IntegrationTestScenario{
		scenario("zeta", "shop"),
		scenario("pr-only", "shop", ContextPullRequest),
		scenario("api-only", "shop", "component_api"),
		scenario("alpha", "shop", ContextApplication),
		scenario("groups", "shop", ContextGroup),
		scenario("blog", "blog"),
	}
	tests := []struct {
		name      string
		snap      *v1alpha1.Snapshot
		component string
		want      []string
	}{
		{"push of api", snapshotOf("shop", v1alpha1.SnapshotTypeComponent, v1alpha1.EventPush), "api", []string{"alpha", "api-only", "zeta"}},
		{"pull request of web", snapshotOf("shop", v1alpha1.SnapshotTypeComponent, v1alpha1.EventPullRequest), "web", []string{"alpha", "pr-only", "zeta"}},
		{"group", snapshotOf("shop", v1alpha1.SnapshotTypeGroup, v1alpha1.EventPush), "", []string{"alpha", "groups", "zeta"}},
		{"application without scenarios", snapshotOf("wiki", v1alpha1.SnapshotTypeGroup, v1alpha1.EventPush), "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := names(Select(all, tt.snap, tt.component)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Select = %v, want %v", got, tt.want)
			}
		})
	}
	if got := names(all); got[0] != "zeta" {
		t.Errorf("Select reordered its input: %v", got)
	}
}

func TestInitial(t *testing.T) {
	t.Parallel()
	got := Initial([]*v1alpha1.IntegrationTestScenario{scenario("e2e", "shop"), optional(scenario("lint", "shop"))})
	want := []v1alpha1.SnapshotTest{
		{Scenario: "e2e", State: v1alpha1.TestPending},
		{Scenario: "lint", Optional: true, State: v1alpha1.TestPending},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Initial = %+v, want %+v", got, want)
	}
	if empty := Initial(nil); empty == nil || len(empty) != 0 {
		t.Errorf("Initial(nil) = %#v, want an empty, non-nil list (status.tests: [])", empty)
	}
}

func finished(name, result string, attempts int) v1alpha1.SnapshotTest {
	return v1alpha1.SnapshotTest{Scenario: name, State: v1alpha1.TestFinished, Result: result, Attempts: attempts, Note: "ran " + name}
}

func pending(name string, attempts int) v1alpha1.SnapshotTest {
	return v1alpha1.SnapshotTest{Scenario: name, State: v1alpha1.TestPending, Attempts: attempts}
}

func TestRerun(t *testing.T) {
	t.Parallel()
	scenarios := []*v1alpha1.IntegrationTestScenario{
		scenario("e2e", "shop"), scenario("lint", "shop"), scenario("perf", "shop"),
		scenario("smoke", "shop"), scenario("unit", "shop"), optional(scenario("fresh", "shop")),
	}
	current := func() []v1alpha1.SnapshotTest {
		return []v1alpha1.SnapshotTest{
			finished("e2e", v1alpha1.ResultFailure, 2),
			finished("lint", v1alpha1.ResultSuccess, 1),
			finished("perf", v1alpha1.ResultError, 1),
			finished("smoke", v1alpha1.ResultWarning, 3),
			{Scenario: "unit", State: v1alpha1.TestRunning, Attempts: 1},
		}
	}
	tests := []struct {
		name    string
		what    string
		want    []v1alpha1.SnapshotTest
		wantErr string
	}{
		{
			name: "all resets everything and adds the new scenario",
			what: "all",
			want: []v1alpha1.SnapshotTest{
				pending("e2e", 2), pending("lint", 1), pending("perf", 1), pending("smoke", 3), pending("unit", 1),
				{Scenario: "fresh", Optional: true, State: v1alpha1.TestPending},
			},
		},
		{
			name: "failed resets only FAILURE and ERROR, passed ones untouched",
			what: "failed",
			want: []v1alpha1.SnapshotTest{
				pending("e2e", 2),
				finished("lint", v1alpha1.ResultSuccess, 1),
				pending("perf", 1),
				finished("smoke", v1alpha1.ResultWarning, 3),
				{Scenario: "unit", State: v1alpha1.TestRunning, Attempts: 1},
			},
		},
		{
			name: "a scenario name resets that one only",
			what: "lint",
			want: []v1alpha1.SnapshotTest{
				finished("e2e", v1alpha1.ResultFailure, 2),
				pending("lint", 1),
				finished("perf", v1alpha1.ResultError, 1),
				finished("smoke", v1alpha1.ResultWarning, 3),
				{Scenario: "unit", State: v1alpha1.TestRunning, Attempts: 1},
			},
		},
		{
			name: "a scenario without an entry yet is added",
			what: "fresh",
			want: append(current(), v1alpha1.SnapshotTest{Scenario: "fresh", Optional: true, State: v1alpha1.TestPending}),
		},
		{
			name:    "unknown name is refused",
			what:    "nope",
			want:    current(),
			wantErr: `test.appstudio.openshift.io/run="nope": no such scenario`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := current()
			got, err := Rerun(in, tt.what, scenarios)
			switch {
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("err = %v, want one containing %q", err, tt.wantErr)
			case tt.wantErr == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Rerun(%q) =\n %+v\nwant\n %+v", tt.what, got, tt.want)
			}
			if !reflect.DeepEqual(in, current()) {
				t.Errorf("Rerun changed its input: %+v", in)
			}
		})
	}
}

func TestRerunFailedWithNothingFailed(t *testing.T) {
	t.Parallel()
	in := []v1alpha1.SnapshotTest{finished("lint", v1alpha1.ResultSkipped, 1)}
	got, err := Rerun(in, "failed", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, in) {
		t.Errorf("Rerun(failed) = %+v, want the list unchanged", got)
	}
}

func TestVerdict(t *testing.T) {
	t.Parallel()
	opt := func(s v1alpha1.SnapshotTest) v1alpha1.SnapshotTest { s.Optional = true; return s }
	tests := []struct {
		name                    string
		tests                   []v1alpha1.SnapshotTest
		status, reason, message string
	}{
		{"no scenarios", nil, "True", "NoScenarios", "no IntegrationTestScenario applies"},
		{"all passed", []v1alpha1.SnapshotTest{
			finished("a", v1alpha1.ResultSuccess, 1), finished("b", v1alpha1.ResultWarning, 1), finished("c", v1alpha1.ResultSkipped, 1),
		}, "True", "Passed", "all required tests passed"},
		{"required failure", []v1alpha1.SnapshotTest{
			finished("a", v1alpha1.ResultSuccess, 1), finished("b", v1alpha1.ResultFailure, 1),
		}, "False", "Failed", "required tests failed: b (FAILURE)"},
		{"required errors listed in order", []v1alpha1.SnapshotTest{
			finished("a", v1alpha1.ResultError, 1), finished("b", v1alpha1.ResultFailure, 1),
		}, "False", "Failed", "required tests failed: a (ERROR), b (FAILURE)"},
		{"failure wins over pending", []v1alpha1.SnapshotTest{
			pending("a", 0), finished("b", v1alpha1.ResultFailure, 1),
		}, "False", "Failed", "required tests failed: b (FAILURE)"},
		{"required pending and running", []v1alpha1.SnapshotTest{
			pending("a", 0), {Scenario: "b", State: v1alpha1.TestRunning}, finished("c", v1alpha1.ResultSuccess, 1),
		}, "Unknown", "InProgress", "waiting for a, b"},
		{"optional failure does not block", []v1alpha1.SnapshotTest{
			finished("a", v1alpha1.ResultSuccess, 1), opt(finished("lint", v1alpha1.ResultFailure, 1)),
		}, "True", "Passed", "all required tests passed; optional tests failed: lint"},
		{"optional pending does not wait", []v1alpha1.SnapshotTest{
			finished("a", v1alpha1.ResultSuccess, 1), opt(pending("slow", 0)),
		}, "True", "Passed", "all required tests passed"},
		{"optional failure with required pending", []v1alpha1.SnapshotTest{
			pending("a", 0), opt(finished("lint", v1alpha1.ResultError, 1)),
		}, "Unknown", "InProgress", "waiting for a"},
		{"optional failure with required failure", []v1alpha1.SnapshotTest{
			finished("a", v1alpha1.ResultFailure, 1), opt(finished("lint", v1alpha1.ResultError, 1)),
		}, "False", "Failed", "required tests failed: a (FAILURE)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, reason, msg := Verdict(tt.tests)
			if st != tt.status || reason != tt.reason || msg != tt.message {
				t.Errorf("Verdict = (%q, %q, %q), want (%q, %q, %q)", st, reason, msg, tt.status, tt.reason, tt.message)
			}
		})
	}
}

func TestParseTestOutput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    TestOutput
		wantErr string
	}{
		{
			name: "success",
			in:   `{"result":"SUCCESS","timestamp":"1700000000","successes":7,"failures":0,"warnings":1,"note":"all good"}`,
			want: TestOutput{Result: "SUCCESS", Successes: 7, Warnings: 1, Note: "all good", Timestamp: "1700000000"},
		},
		{name: "failure", in: `{"result":"FAILURE","failures":2}`, want: TestOutput{Result: "FAILURE", Failures: 2}},
		{name: "skipped with surrounding space", in: " \n{\"result\":\"SKIPPED\"}\n", want: TestOutput{Result: "SKIPPED"}},
		{name: "not JSON", in: `result=SUCCESS`, wantErr: "TEST_OUTPUT is not JSON"},
		{name: "empty", in: ``, wantErr: "TEST_OUTPUT is not JSON"},
		{name: "wrong type", in: `{"result":"SUCCESS","successes":"seven"}`, wantErr: "TEST_OUTPUT is not JSON"},
		{name: "unknown result", in: `{"result":"PASSED"}`, wantErr: `TEST_OUTPUT result "PASSED"`},
		{name: "lower-case result", in: `{"result":"success"}`, wantErr: `TEST_OUTPUT result "success"`},
		{name: "missing result", in: `{"successes":1}`, wantErr: `TEST_OUTPUT result ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseTestOutput(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("ParseTestOutput = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSnapshotParam(t *testing.T) {
	t.Parallel()
	s := &v1alpha1.Snapshot{}
	s.Name = "shop-api-7"
	s.Labels = map[string]string{v1alpha1.LabelSequence: "7"}
	s.Spec = v1alpha1.SnapshotSpec{Application: "shop", Components: []v1alpha1.SnapshotComponent{
		{Name: "api", ContainerImage: "reg/api@sha256:" + strings.Repeat("a", 64),
			Source: &v1alpha1.SnapshotSource{Git: &v1alpha1.SnapshotGitSource{URL: "https://git.example.com/api", Revision: strings.Repeat("c", 40)}}},
		{Name: "web", ContainerImage: "reg/web@sha256:" + strings.Repeat("b", 64)},
	}}
	got := SnapshotParam(s)
	want := `{"application":"shop","components":[` +
		`{"name":"api","containerImage":"reg/api@sha256:` + strings.Repeat("a", 64) + `","source":{"git":{"url":"https://git.example.com/api","revision":"` + strings.Repeat("c", 40) + `"}}},` +
		`{"name":"web","containerImage":"reg/web@sha256:` + strings.Repeat("b", 64) + `"}]}`
	if got != want {
		t.Errorf("SnapshotParam =\n %s\nwant\n %s", got, want)
	}
	var back v1alpha1.SnapshotSpec
	if err := json.Unmarshal([]byte(got), &back); err != nil || !reflect.DeepEqual(back, s.Spec) {
		t.Errorf("SnapshotParam does not round-trip: %+v, %v", back, err)
	}
}

func TestInterrupt(t *testing.T) {
	t.Parallel()
	now := metav1.Now()
	running := func(s string) bool { return s == "live" }
	tests := []v1alpha1.SnapshotTest{{Scenario: "live"}, {Scenario: "once"}, {Scenario: "twice", Interrupted: true}, finished("done", v1alpha1.ResultSuccess, 1)}
	for i := range 3 {
		StartRun(&tests[i], now)
	}
	if !Interrupt(tests, running, now) {
		t.Fatal("nothing changed")
	}
	if tt := tests[0]; tt.State != v1alpha1.TestRunning || tt.Interrupted {
		t.Errorf("a run this process runs was touched: %+v", tt)
	}
	if tt := tests[1]; tt.State != v1alpha1.TestPending || !tt.Interrupted || len(tt.Runs) != 1 || !tt.Runs[0].Interrupted || tt.Runs[0].CompletionTime == nil {
		t.Errorf("first interruption: %+v", tt)
	}
	if tt := tests[2]; tt.State != v1alpha1.TestFinished || tt.Result != v1alpha1.ResultError || !strings.Contains(tt.Note, "interrupted twice") {
		t.Errorf("second interruption: %+v", tt)
	}
	if tests[3].State != v1alpha1.TestFinished || tests[3].Result != v1alpha1.ResultSuccess {
		t.Errorf("a finished test changed: %+v", tests[3])
	}
	// A requested re-run gets its own retry.
	again, err := Rerun(tests, "twice", nil)
	if err != nil || again[2].State != v1alpha1.TestPending || again[2].Interrupted {
		t.Errorf("re-run after two interruptions: %+v, %v", again[2], err)
	}
	// Runs are bounded; attempts count them all.
	var tt v1alpha1.SnapshotTest
	for range v1alpha1.MaxTestRuns + 5 {
		StartRun(&tt, now)
		EndRun(&tt, v1alpha1.SnapshotTestRun{Result: v1alpha1.ResultFailure, CompletionTime: &now})
	}
	if len(tt.Runs) != v1alpha1.MaxTestRuns || tt.Attempts != v1alpha1.MaxTestRuns+5 || tt.Runs[len(tt.Runs)-1].Attempt != tt.Attempts {
		t.Errorf("runs %d, attempts %d", len(tt.Runs), tt.Attempts)
	}
}
