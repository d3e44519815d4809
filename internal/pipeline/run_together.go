package pipeline

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/kilnbuild/kiln/internal/sandbox"
)

// continuesOnError says whether a step of the task continues after
// failing: such a task runs step by step (a backend running the task
// whole stops at the first failure).
func continuesOnError(steps []*PlanStep) bool {
	for _, s := range steps {
		if s.OnError == "continue" {
			return true
		}
	}
	return false
}

// imageRef is the image a backend pulls: by digest when known.
func imageRef(image, digest string) string {
	if image == HostImage {
		return ""
	}
	if digest == "" {
		return image
	}
	if i := strings.LastIndex(image, "@"); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		image = image[:i]
	}
	return image + "@" + digest
}

// runStepsTogether hands the task's steps (prefetch ones excepted: they
// ran already) to a TaskRunner at once and records how each ended.
func (e *executor) runStepsTogether(ctx context.Context, runner sandbox.TaskRunner, t *PlanTask, steps []*PlanStep) (string, string) {
	tr := e.runs[t.Name]
	var idx []int
	var sbs []sandbox.Step
	for i, s := range steps {
		if s.Prefetch && tr.Steps[i].Status != StatusNotRun {
			continue
		}
		step, err := e.sandboxStep(ctx, t, i, s, tr.Steps[i])
		if err != nil {
			e.skipAfter(tr, i, err.Error())
			return StatusFailed, fmt.Sprintf("step %s: %v", s.Name, err)
		}
		idx, sbs = append(idx, i), append(sbs, step)
	}
	logs := make([]*lineWriter, len(sbs))
	results, err := runner.RunTask(ctx, sbs, func(k int) io.Writer {
		sr := tr.Steps[idx[k]]
		sr.Start = e.opts.Now()
		logs[k] = e.stepLog(t.Name, steps[idx[k]].Name)
		return logs[k]
	})
	for _, l := range logs {
		if l != nil {
			l.Flush()
		}
	}
	return e.recordTogether(ctx, tr, steps, idx, results, err)
}

// recordTogether sets each step's status from the runner's results.
func (e *executor) recordTogether(ctx context.Context, tr *TaskRun, steps []*PlanStep, idx []int, results []sandbox.Result, err error) (string, string) {
	status, reason := StatusSucceeded, ""
	for k, i := range idx {
		sr := tr.Steps[i]
		switch {
		case k < len(results):
			sr.ExitCode = results[k].ExitCode
			sr.Status, sr.Reason = stepStatus(ctx, results[k], nil)
			if sr.Start.IsZero() {
				sr.Start = e.opts.Now()
			}
			sr.Duration, sr.End = Duration(results[k].Duration), sr.Start.Add(results[k].Duration)
		case status == StatusSucceeded:
			sr.Status, sr.Reason = stepStatus(ctx, sandbox.Result{}, orErr(err, ctx))
			sr.ExitCode = -1
			sr.Start, sr.End = e.opts.Now(), e.opts.Now()
		default:
			sr.Status, sr.Reason = StatusSkipped, "an earlier step failed"
			continue
		}
		if status == StatusSucceeded && failedStep(sr, steps[i]) {
			status, reason = sr.Status, fmt.Sprintf("step %s: %s", steps[i].Name, sr.Reason)
		}
	}
	return status, reason
}

// orErr is err, or why a task that ran no step stopped.
func orErr(err error, ctx context.Context) error {
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("the task ended before this step started")
}

// skipAfter fails step i and skips the ones after it.
func (e *executor) skipAfter(tr *TaskRun, i int, reason string) {
	now := e.opts.Now()
	tr.Steps[i].Status, tr.Steps[i].ExitCode, tr.Steps[i].Reason = StatusFailed, -1, reason
	tr.Steps[i].Start, tr.Steps[i].End = now, now
	for _, sr := range tr.Steps[i+1:] {
		if sr.Status == StatusNotRun {
			sr.Status, sr.Reason = StatusSkipped, "an earlier step failed"
		}
	}
}
