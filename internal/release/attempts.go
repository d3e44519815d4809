package release

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

// maxInterruptions is how many times a crash may interrupt one phase's
// pipeline: the first interrupted run is run again, the second ends the
// phase.
const maxInterruptions = 2

// phaseRole maps the phases that run a pipeline to the role their runs
// are recorded under in status.pipelines.
var phaseRole = map[string]string{
	v1alpha1.ReleaseTenant:  "tenant",
	v1alpha1.ReleaseManaged: "managed",
	v1alpha1.ReleaseFinal:   "final",
}

// beginRun records a pipeline run about to start (status Running), so a
// crash during it is seen, recorded and counted on the next start.
func (c *Controller) beginRun(ctx context.Context, r *v1alpha1.Release, role, ns string) error {
	now := metav1.NewTime(c.Now())
	return c.advance(ctx, r.Namespace, r.Name, func(r *v1alpha1.Release) {
		r.Status.Pipelines = append(r.Status.Pipelines, v1alpha1.ReleasePipelineRun{Role: role, Namespace: ns,
			Status: v1alpha1.PipelineRunRunning, StartTime: &now})
	})
}

// endRun records how the role's running run ended, in its entry.
func endRun(r *v1alpha1.Release, run v1alpha1.ReleasePipelineRun) {
	for i := len(r.Status.Pipelines) - 1; i >= 0; i-- {
		if p := &r.Status.Pipelines[i]; p.Role == run.Role && p.Status == v1alpha1.PipelineRunRunning {
			if p.StartTime != nil {
				run.StartTime = p.StartTime
			}
			*p = run
			return
		}
	}
	r.Status.Pipelines = append(r.Status.Pipelines, run)
}

// markInterrupted ends the runs a crash left Running: a Release's
// pipelines run inside its reconcile, one at a time, so a Running entry
// seen when the reconcile starts belongs to a process that died. It
// reports whether it changed anything.
func markInterrupted(r *v1alpha1.Release, now metav1.Time) bool {
	changed := false
	for i := range r.Status.Pipelines {
		if p := &r.Status.Pipelines[i]; p.Status == v1alpha1.PipelineRunRunning {
			p.Status, p.CompletionTime, p.Message = v1alpha1.PipelineRunInterrupted, &now, "interrupted by a server restart"
			changed = true
		}
	}
	return changed
}

// interruptions counts the role's interrupted runs.
func interruptions(r *v1alpha1.Release, role string) int {
	n := 0
	for _, p := range r.Status.Pipelines {
		if p.Role == role && p.Status == v1alpha1.PipelineRunInterrupted {
			n++
		}
	}
	return n
}

// interruptedTooOften ends the phase whose pipeline crashes interrupted
// maxInterruptions times: a tenant pipeline fails the Release; a managed
// one fails publishing (the final pipeline still runs); a final one
// finishes the Release.
func (c *Controller) interruptedTooOften(ctx context.Context, r *v1alpha1.Release, role string) error {
	msg := fmt.Sprintf("the %s pipeline was interrupted by a server restart %d times; not run again", role, maxInterruptions)
	return c.advance(ctx, r.Namespace, r.Name, func(r *v1alpha1.Release) {
		switch role {
		case "tenant":
			failInPlace(r, v1alpha1.ConditionTenantPipelineProcessed, "Interrupted", msg)
		case "managed":
			c.managedDone(r, false, msg, nil)
		case "final":
			setCond(r, v1alpha1.ConditionFinalPipelineProcessed, metav1.ConditionFalse, "Interrupted", msg)
			c.finish(r)
		}
	})
}
