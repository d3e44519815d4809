package pipeline

import (
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// order sorts the plan's tasks topologically. Among the tasks whose
// dependencies are met, the one declared first goes first, so the same
// pipeline always gives the same order. A cycle is an error that prints it.
func (c *compiler) order() {
	if len(c.errs) > 0 {
		return
	}
	tasks := c.plan.Tasks
	done := map[string]bool{}
	var sorted []*PlanTask
	for len(sorted) < len(tasks) {
		next := firstReady(tasks, done)
		if next == nil {
			c.fail("spec.tasks", "tasks form a cycle: %s (A -> B: A runs after B or uses its results)", findCycle(tasks, done))
			return
		}
		done[next.Name] = true
		sorted = append(sorted, next)
	}
	c.plan.Tasks = sorted
}

// firstReady returns the first task (in declaration order) not done whose
// dependencies are all done.
func firstReady(tasks []*PlanTask, done map[string]bool) *PlanTask {
	for _, t := range tasks {
		if done[t.Name] {
			continue
		}
		ready := true
		for _, d := range t.RunAfter {
			ready = ready && done[d]
		}
		if ready {
			return t
		}
	}
	return nil
}

// findCycle walks dependencies from the first task not done until a task
// repeats, and renders the cycle "a -> b -> a".
func findCycle(tasks []*PlanTask, done map[string]bool) string {
	byName := map[string]*PlanTask{}
	for _, t := range tasks {
		byName[t.Name] = t
	}
	var path []string
	var cur *PlanTask
	for _, t := range tasks {
		if !done[t.Name] {
			cur = t
			break
		}
	}
	for cur != nil {
		if i := slices.Index(path, cur.Name); i >= 0 {
			return strings.Join(append(path[i:], cur.Name), " -> ")
		}
		path = append(path, cur.Name)
		var next *PlanTask
		for _, d := range cur.RunAfter {
			if !done[d] {
				next = byName[d]
				break
			}
		}
		cur = next
	}
	return strings.Join(path, " -> ")
}

// pipelineResults substitutes the pipeline's results; they are computed
// from task results after the run.
func (c *compiler) pipelineResults() {
	look := c.pipelineLookup(nil)
	for i, res := range c.p.Spec.Results {
		path := fmt.Sprintf("spec.results[%d]", i)
		if res.Name == "" {
			c.fail(path+".name", "required")
			continue
		}
		v, err := substValue(res.Value, look)
		if err != nil {
			c.fail(path+".value", "%v", err)
			continue
		}
		c.plan.Results = append(c.plan.Results, NamedValue{res.Name, v})
	}
}

// outputDirectory declares the output workspace: the one named by the
// kiln.dev/output-workspace annotation, else "output" when declared.
func (c *compiler) outputDirectory() {
	name, set := c.p.Annotations[AnnotationOutputWorkspace]
	if !set {
		name = "output"
	}
	switch {
	case c.pws[name]:
		out := Output{Kind: OutputDirectory, Name: name, Workspace: name}
		c.plan.Outputs = append([]Output{out}, c.plan.Outputs...)
	case set:
		c.fail("metadata.annotations."+AnnotationOutputWorkspace, "the pipeline declares no workspace %q", name)
	}
}

// timeouts reads the PipelineRun's timeouts, as Tekton does: tasks and
// finally must fit in pipeline; tasks defaults to pipeline - finally.
func (c *compiler) timeouts() {
	if c.p.Run == nil || c.p.Run.Timeouts == nil {
		return
	}
	t := c.p.Run.Timeouts
	pt := &PlanTimeout{Pipeline: dur(t.Pipeline), Tasks: dur(t.Tasks), Finally: dur(t.Finally)}
	path := fmt.Sprintf("PipelineRun %q: spec.timeouts", c.p.Run.Name)
	switch {
	case pt.Pipeline < 0 || pt.Tasks < 0 || pt.Finally < 0:
		c.fail(path, "must not be negative")
	case pt.Pipeline > 0 && pt.Tasks+pt.Finally > pt.Pipeline:
		c.fail(path, "tasks (%s) + finally (%s) exceed pipeline (%s)", time.Duration(pt.Tasks), time.Duration(pt.Finally), time.Duration(pt.Pipeline))
	case pt.Pipeline > 0 && pt.Tasks == 0 && pt.Finally > 0:
		pt.Tasks = pt.Pipeline - pt.Finally
	}
	c.plan.Timeouts = pt
}

func dur(d *metav1.Duration) Duration {
	if d == nil {
		return 0
	}
	return Duration(d.Duration)
}
