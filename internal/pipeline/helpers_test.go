package pipeline

import (
	"context"
	"os"
	"testing"

	"github.com/kilnbuild/kiln/internal/pipeline/pipelinetest"
	"github.com/kilnbuild/kiln/internal/syncbuf"
)

// runBundle is one executor test: the fake runner, the log and the result.
type runBundle struct {
	runner *pipelinetest.FakeRunner
	log    *syncbuf.Buffer
	res    *RunResult
	dir    string
}

// run parses, compiles and runs doc with the fake runner; opts may set
// anything but Runner, WorkspaceDir and Log.
func run(t *testing.T, ctx context.Context, doc string, opts RunOptions) *runBundle {
	t.Helper()
	p, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("parsing: %v", err)
	}
	plan, err := Compile(p, nil, Context{PipelineRunName: "r"})
	if err != nil {
		t.Fatalf("compiling: %v", err)
	}
	b := &runBundle{runner: &pipelinetest.FakeRunner{}, log: &syncbuf.Buffer{}, dir: t.TempDir()}
	opts.WorkspaceDir, opts.Log = b.dir, b.log
	if opts.Runner == nil {
		opts.Runner = b.runner
	}
	b.res, err = Run(ctx, plan, opts)
	if err != nil {
		t.Fatalf("running: %v", err)
	}
	return b
}

func (b *runBundle) task(t *testing.T, name string) *TaskRun {
	t.Helper()
	tr := b.res.Task(name)
	if tr == nil {
		t.Fatalf("no task %s in the result", name)
	}
	return tr
}

func (b *runBundle) wantStatus(t *testing.T, want map[string]string) {
	t.Helper()
	for name, status := range want {
		if tr := b.task(t, name); tr.Status != status {
			t.Errorf("task %s: %s (%s), want %s\nlog:\n%s", name, tr.Status, tr.Reason, status, b.log)
		}
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
