package pipeline

import (
	"context"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/kilnbuild/kiln/internal/pipeline/pipelinetest"
	"github.com/kilnbuild/kiln/internal/sandbox"
)

// taskRunner is a TEST DOUBLE of a sandbox.TaskRunner: it runs a task's
// steps one after the other with the FakeRunner, stopping at the first
// failure, and records each task it was handed.
type taskRunner struct {
	pipelinetest.FakeRunner
	mu    sync.Mutex
	tasks [][]sandbox.Step
}

func (r *taskRunner) RunTask(ctx context.Context, steps []sandbox.Step, start func(int) io.Writer) ([]sandbox.Result, error) {
	r.mu.Lock()
	r.tasks = append(r.tasks, steps)
	r.mu.Unlock()
	var out []sandbox.Result
	for i, s := range steps {
		s.Stdout = start(i)
		s.Stderr = s.Stdout
		res, err := r.Run(ctx, s)
		if err != nil {
			return out, err
		}
		out = append(out, res)
		if res.ExitCode != 0 {
			break
		}
	}
	return out, nil
}

// TestRunTaskTogether: with a TaskRunner, each task's steps (but its
// prefetch step, run before with network) go to the runner at once, with
// images by digest; a failing step skips the rest; a task whose step
// continues on error runs step by step.
func TestRunTaskTogether(t *testing.T) {
	t.Parallel()
	digest := "sha256:" + strings.Repeat("b", 64)
	resolver := func(string) (string, string, error) { return t.TempDir(), digest, nil }
	tr := &taskRunner{}
	b := run(t, context.Background(), header+`
  workspaces: [{name: source}]
  tasks:
    - name: build
      taskSpec:
        metadata: {annotations: {kiln.dev/prefetch: fetch}}
        workspaces: [{name: source}]
        steps:
          - {name: fetch, image: "reg.example/t/img:1", script: printf downloaded > /kiln/prefetch/dl.txt}
          - {name: one, image: "reg.example/t/img:1", script: echo one}
          - {name: two, image: "reg.example/t/img:1", script: cat /kiln/prefetch/dl.txt}
    - name: fails
      runAfter: [build]
      taskSpec:
        steps:
          - {name: bad, image: "reg.example/t/img:1", script: exit 3}
          - {name: never, image: "reg.example/t/img:1", script: echo never}
`, RunOptions{Runner: tr, ImageResolver: resolver})
	if len(tr.tasks) != 2 || len(tr.tasks[0]) != 2 || len(tr.tasks[1]) != 2 {
		t.Fatalf("tasks handed over: %d %v", len(tr.tasks), tr.tasks)
	}
	if got := tr.tasks[0][0].Image; got != "reg.example/t/img@"+digest {
		t.Errorf("step image %q, want by digest", got)
	}
	calls := tr.Calls()
	if !calls[0].Step.Network || calls[1].Step.Network {
		t.Errorf("network: prefetch %v, step %v", calls[0].Step.Network, calls[1].Step.Network)
	}
	if !strings.Contains(b.log.String(), "[build/two] downloaded") || !strings.Contains(b.log.String(), "[build/one] one") {
		t.Errorf("log:\n%s", b.log)
	}
	b.wantStatus(t, map[string]string{"build": StatusSucceeded, "fails": StatusFailed})
	var got []string
	for _, s := range b.task(t, "fails").Steps {
		got = append(got, s.Status)
	}
	if !slices.Equal(got, []string{StatusFailed, StatusSkipped}) || b.task(t, "fails").Steps[0].ExitCode != 3 {
		t.Errorf("failing task's steps: %v", b.task(t, "fails").Steps)
	}

	tr = &taskRunner{}
	b = run(t, context.Background(), header+`
  tasks:
    - name: t
      taskSpec:
        steps:
          - {name: a, image: "reg.example/t/img:1", script: exit 1, onError: continue}
          - {name: b, image: "reg.example/t/img:1", script: echo b}
`, RunOptions{Runner: tr, ImageResolver: resolver})
	if len(tr.tasks) != 0 || len(tr.Calls()) != 2 {
		t.Errorf("onError continue: %d tasks, %d steps", len(tr.tasks), len(tr.Calls()))
	}
	b.wantStatus(t, map[string]string{"t": StatusSucceeded})
}
