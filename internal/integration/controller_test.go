package integration

import (
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/pipeline"
)

func TestOutcome(t *testing.T) {
	t.Parallel()
	out := func(v string) []pipeline.NamedValue {
		return []pipeline.NamedValue{{Name: "OTHER", Value: pipeline.String("x")}, {Name: "TEST_OUTPUT", Value: pipeline.String(v)}}
	}
	tests := []struct {
		name     string
		res      *pipeline.RunResult
		want     TestOutput
		wantNote string // checked with Contains when want.Note is empty
	}{
		{
			name: "pipeline-level TEST_OUTPUT",
			res:  &pipeline.RunResult{Status: pipeline.StatusSucceeded, Results: out(`{"result":"WARNING","successes":3,"warnings":2,"note":"flaky"}`)},
			want: TestOutput{Result: v1alpha1.ResultWarning, Successes: 3, Warnings: 2, Note: "flaky"},
		},
		{
			name: "pipeline-level TEST_OUTPUT wins over a task's",
			res: &pipeline.RunResult{Status: pipeline.StatusSucceeded,
				Results: out(`{"result":"SUCCESS","successes":1}`),
				Tasks:   []*pipeline.TaskRun{{Name: "t", Results: out(`{"result":"FAILURE","failures":1}`)}}},
			want: TestOutput{Result: v1alpha1.ResultSuccess, Successes: 1},
		},
		{
			name: "task-level TEST_OUTPUT",
			res: &pipeline.RunResult{Status: pipeline.StatusSucceeded, Tasks: []*pipeline.TaskRun{
				{Name: "prepare"},
				{Name: "test", Results: out(`{"result":"FAILURE","successes":4,"failures":1,"note":"1 failed"}`)},
			}},
			want: TestOutput{Result: v1alpha1.ResultFailure, Successes: 4, Failures: 1, Note: "1 failed"},
		},
		{
			name: "no TEST_OUTPUT, pipeline succeeded",
			res:  &pipeline.RunResult{Status: pipeline.StatusSucceeded, Results: []pipeline.NamedValue{{Name: "OTHER", Value: pipeline.String("x")}}},
			want: TestOutput{Result: v1alpha1.ResultSuccess, Note: "the pipeline succeeded (it reports no TEST_OUTPUT)"},
		},
		{
			name: "no TEST_OUTPUT, pipeline failed",
			res:  &pipeline.RunResult{Status: pipeline.StatusFailed, Reason: "task test: exit 1"},
			want: TestOutput{Result: v1alpha1.ResultError, Note: "the pipeline failed: task test: exit 1"},
		},
		{
			name: "SUCCESS reported but the pipeline failed",
			res: &pipeline.RunResult{Status: pipeline.StatusFailed, Reason: "task cleanup: exit 2",
				Tasks: []*pipeline.TaskRun{{Name: "test", Results: out(`{"result":"SUCCESS","successes":5}`)}}},
			want: TestOutput{Result: v1alpha1.ResultFailure, Successes: 5, Note: "the pipeline failed: task cleanup: exit 2"},
		},
		{
			name: "WARNING reported but the pipeline failed does not pass",
			res: &pipeline.RunResult{Status: pipeline.StatusFailed, Reason: "task cleanup: exit 2",
				Results: out(`{"result":"WARNING","successes":2,"warnings":1}`)},
			want: TestOutput{Result: v1alpha1.ResultFailure, Successes: 2, Warnings: 1, Note: "the pipeline failed: task cleanup: exit 2"},
		},
		{
			name: "FAILURE reported and the pipeline failed keeps the test's note",
			res: &pipeline.RunResult{Status: pipeline.StatusFailed, Reason: "task test: exit 1",
				Results: out(`{"result":"FAILURE","failures":3,"note":"3 checks failed"}`)},
			want: TestOutput{Result: v1alpha1.ResultFailure, Failures: 3, Note: "3 checks failed"},
		},
		{
			name:     "TEST_OUTPUT that does not parse is an ERROR",
			res:      &pipeline.RunResult{Status: pipeline.StatusSucceeded, Results: out(`not json`)},
			want:     TestOutput{Result: v1alpha1.ResultError},
			wantNote: "TEST_OUTPUT is not JSON",
		},
		{
			name:     "TEST_OUTPUT with an unknown result is an ERROR",
			res:      &pipeline.RunResult{Status: pipeline.StatusSucceeded, Results: out(`{"result":"OK"}`)},
			want:     TestOutput{Result: v1alpha1.ResultError},
			wantNote: `TEST_OUTPUT result "OK"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := outcome(tt.res)
			if tt.wantNote != "" {
				if !strings.Contains(got.Note, tt.wantNote) {
					t.Errorf("Note = %q, want one containing %q", got.Note, tt.wantNote)
				}
				got.Note = ""
			}
			if got != tt.want {
				t.Errorf("outcome =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}
