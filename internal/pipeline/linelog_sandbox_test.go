package pipeline

import (
	"context"
	"io"
	"testing"

	"github.com/kilnbuild/kiln/internal/sandbox"
)

// TestRunStepPrintingOneHugeLine: a step in the real sandbox prints a
// single 100 MB line; the server's writer passes it on in bounded pieces,
// and the log holds every byte up to the output limit.
func TestRunStepPrintingOneHugeLine(t *testing.T) {
	t.Parallel()
	runner := bubblewrap(t)
	p, err := Parse([]byte(header + `
  tasks:
    - name: t
      taskSpec:
        steps:
          - {name: s, image: host, script: "head -c 100000000 /dev/zero | tr '\\0' a"}
`))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Compile(p, nil, Context{PipelineRunName: "r"})
	if err != nil {
		t.Fatal(err)
	}
	var log countingLog
	res, err := Run(context.Background(), plan, RunOptions{Runner: runner, WorkspaceDir: t.TempDir(),
		StepLog: func(string, string) io.Writer { return &log }})
	if err != nil {
		t.Fatal(err)
	}
	if s := res.Task("t").Steps[0]; s.Reason != sandbox.ReasonOutputLimit {
		t.Fatalf("step ended %s (%s), want the output limit", s.Status, s.Reason)
	}
	limit := int(sandbox.DefaultLimits.Output)
	if log.bad != "" || log.bytes != limit || log.maxWrite > MaxLogLine+len(LineSplitMarker)+1 {
		t.Fatalf("log holds %d bytes of the line (want %d), largest write %d, odd piece %q",
			log.bytes, limit, log.maxWrite, log.bad)
	}
}
