package integration

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/controller"
	"github.com/kilnbuild/kiln/internal/logstore"
	"github.com/kilnbuild/kiln/internal/oci"
	"github.com/kilnbuild/kiln/internal/pipeline"
	"github.com/kilnbuild/kiln/internal/pipelinerun"
	"github.com/kilnbuild/kiln/internal/registry"
)

var snapshotKind = v1alpha1.MustLookup("Snapshot")

// Runner runs a pipeline in the sandbox (pipelinerun.Runner).
type Runner interface {
	Run(ctx context.Context, r pipelinerun.Run) (*pipeline.RunResult, string, error)
}

// Controller runs scenarios and records their results.
type Controller struct {
	reg    *registry.Registry
	Runner Runner
	// Logs keeps one log per snapshot and scenario (every attempt
	// appends).
	Logs *logstore.Store
	// Workers bounds the scenario runs in progress, across snapshots
	// (default 2).
	Workers int
	Log     *slog.Logger
	Now     func() time.Time

	mu      sync.Mutex
	running map[string]bool // ns/snapshot/scenario run by this process
	// slots bounds the scenario runs in progress, across snapshots.
	slots chan struct{}
	runs  sync.WaitGroup
}

// Wait returns when every scenario run started has ended (after the
// manager's context is cancelled, they end promptly).
func (c *Controller) Wait() { c.runs.Wait() }

// Register adds the integration controller to m.
func (c *Controller) Register(m *controller.Manager) {
	c.reg = m.Registry()
	c.running = map[string]bool{}
	if c.Workers <= 0 {
		c.Workers = 2
	}
	c.slots = make(chan struct{}, c.Workers)
	if c.Now == nil {
		c.Now = time.Now
	}
	m.Register("integration", controller.For(c.reg, c.reconcile), controller.Options{Workers: c.Workers},
		controller.Source{Kind: "Snapshot"})
}

func (c *Controller) reconcile(ctx context.Context, s *v1alpha1.Snapshot) (controller.Result, error) {
	scenarios, err := c.scenarios(ctx, s)
	if err != nil {
		return controller.Result{}, err
	}
	if changed, err := c.prepare(ctx, s, scenarios); changed || err != nil {
		return controller.Result{}, err // the write brings the Snapshot back here
	}
	// Every pending scenario starts now, in parallel, as slots allow; the
	// reconcile does not wait for them (their results are status writes,
	// which bring the Snapshot back here).
	for _, name := range c.claimPending(s) {
		c.runs.Add(1)
		go func() { defer c.runs.Done(); c.runClaimed(ctx, s, name, scenarios) }()
	}
	return controller.Result{}, nil
}

// runClaimed runs one claimed scenario when a slot is free.
func (c *Controller) runClaimed(ctx context.Context, s *v1alpha1.Snapshot, name string, scenarios []*v1alpha1.IntegrationTestScenario) {
	defer c.unclaim(s, name)
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return
	}
	defer func() { <-c.slots }()
	if err := c.runScenario(ctx, s, name, scenarios); err != nil && ctx.Err() == nil {
		c.Log.Warn("integration test", "namespace", s.Namespace, "snapshot", s.Name, "scenario", name, "err", err)
	}
}

// prepare initialises the tests list, applies a re-run request and
// recovers runs a crash interrupted; it reports whether it wrote.
func (c *Controller) prepare(ctx context.Context, s *v1alpha1.Snapshot, scenarios []*v1alpha1.IntegrationTestScenario) (bool, error) {
	if what := s.Labels[v1alpha1.LabelTestRun]; what != "" {
		return true, c.rerun(ctx, s, what, scenarios)
	}
	tests, changed := s.Status.Tests, false
	if meta.FindStatusCondition(s.Status.Conditions, v1alpha1.ConditionTestsPassed) == nil {
		tests, changed = Initial(scenarios), true
	}
	tests = append([]v1alpha1.SnapshotTest(nil), tests...)
	if Interrupt(tests, func(scenario string) bool { return c.isRunning(s, scenario) }, metav1.NewTime(c.Now())) {
		changed = true
	}
	if !changed {
		return false, nil
	}
	return true, c.writeTests(ctx, s, tests)
}

func (c *Controller) rerun(ctx context.Context, s *v1alpha1.Snapshot, what string, scenarios []*v1alpha1.IntegrationTestScenario) error {
	tests, err := Rerun(s.Status.Tests, what, scenarios)
	if err != nil {
		c.Log.Warn("test re-run refused", "namespace", s.Namespace, "snapshot", s.Name, "err", err)
	} else if err := c.writeTests(ctx, s, tests); err != nil {
		return err
	}
	fresh, err := c.snapshot(ctx, s.Namespace, s.Name)
	if err != nil {
		return err
	}
	delete(fresh.Labels, v1alpha1.LabelTestRun)
	_, err = c.reg.Update(ctx, snapshotKind, fresh, registry.UpdateOptions{})
	return err
}

// writeTests stores the tests list and the TestsPassed condition.
func (c *Controller) writeTests(ctx context.Context, s *v1alpha1.Snapshot, tests []v1alpha1.SnapshotTest) error {
	setTests(s, tests)
	_, err := registry.WriteStatus(ctx, c.reg, s)
	return err
}

// setTests sets the tests list and the TestsPassed condition it implies.
func setTests(s *v1alpha1.Snapshot, tests []v1alpha1.SnapshotTest) {
	s.Status.Tests = tests
	st, reason, msg := Verdict(tests)
	meta.SetStatusCondition(&s.Status.Conditions, metav1.Condition{Type: v1alpha1.ConditionTestsPassed,
		Status: metav1.ConditionStatus(st), Reason: reason, Message: msg, ObservedGeneration: s.Generation})
}

// claimPending marks every pending scenario not yet running as run by
// this process, and returns them.
func (c *Controller) claimPending(s *v1alpha1.Snapshot) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, t := range s.Status.Tests {
		key := s.Namespace + "/" + s.Name + "/" + t.Scenario
		if t.State == v1alpha1.TestPending && !c.running[key] {
			c.running[key] = true
			out = append(out, t.Scenario)
		}
	}
	return out
}

func (c *Controller) unclaim(s *v1alpha1.Snapshot, scenario string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.running, s.Namespace+"/"+s.Name+"/"+scenario)
}

func (c *Controller) isRunning(s *v1alpha1.Snapshot, scenario string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.running[s.Namespace+"/"+s.Name+"/"+scenario]
}

// runScenario marks the test Running, runs it and records the result.
func (c *Controller) runScenario(ctx context.Context, s *v1alpha1.Snapshot, name string, scenarios []*v1alpha1.IntegrationTestScenario) error {
	now := metav1.NewTime(c.Now())
	attempt := 0
	if err := c.updateTest(ctx, s.Namespace, s.Name, name, func(t *v1alpha1.SnapshotTest) {
		StartRun(t, now)
		attempt = t.Attempts
	}); err != nil {
		return err
	}
	var its *v1alpha1.IntegrationTestScenario
	for _, sc := range scenarios {
		if sc.Name == name {
			its = sc
		}
	}
	out := c.run(ctx, s, its, attempt)
	done := metav1.NewTime(c.Now())
	return c.updateTest(ctx, s.Namespace, s.Name, name, func(t *v1alpha1.SnapshotTest) {
		t.State, t.CompletionTime = v1alpha1.TestFinished, &done
		t.Result, t.Successes, t.Failures, t.Warnings, t.Note = out.Result, out.Successes, out.Failures, out.Warnings, out.Note
		EndRun(t, v1alpha1.SnapshotTestRun{CompletionTime: &done, Result: out.Result, Note: out.Note})
	})
}

// run runs one scenario's pipeline; every failure becomes an ERROR
// result, also a log that cannot be opened or written: a test never runs
// without its log, nor passes with part of it lost.
func (c *Controller) run(ctx context.Context, s *v1alpha1.Snapshot, its *v1alpha1.IntegrationTestScenario, attempt int) TestOutput {
	if its == nil {
		return TestOutput{Result: v1alpha1.ResultError, Note: "the IntegrationTestScenario was deleted"}
	}
	logw, err := c.Logs.Append(logstore.Key{Kind: logstore.Snapshot, Namespace: s.Namespace, Name: s.Name, Part: its.Name})
	if err != nil {
		return TestOutput{Result: v1alpha1.ResultError, Note: err.Error()}
	}
	out := c.runLogged(ctx, s, its, attempt, logw)
	if err := logw.Close(); err != nil {
		return TestOutput{Result: v1alpha1.ResultError, Note: err.Error()}
	}
	return out
}

// runLogged runs the scenario's pipeline, its output going to logw.
func (c *Controller) runLogged(ctx context.Context, s *v1alpha1.Snapshot, its *v1alpha1.IntegrationTestScenario, attempt int, logw io.Writer) TestOutput {
	fmt.Fprintf(logw, "==> %s against %s, attempt %d\n", its.Name, s.Name, attempt)
	arts, err := artifacts(s)
	if err != nil {
		return TestOutput{Result: v1alpha1.ResultError, Note: err.Error()}
	}
	params := map[string]any{}
	for _, p := range its.Spec.Params {
		params[p.Name] = p.Value
	}
	res, from, err := c.Runner.Run(ctx, pipelinerun.Run{
		Namespace: s.Namespace, Name: "test-" + s.Name + "-" + its.Name, Ref: its.Spec.ResolverRef,
		Params: params, Offered: map[string]any{"SNAPSHOT": SnapshotParam(s)}, Artifacts: arts, Log: logw,
	})
	if err != nil {
		fmt.Fprintf(logw, "==> error: %v\n", err)
		return TestOutput{Result: v1alpha1.ResultError, Note: err.Error()}
	}
	out := outcome(res)
	fmt.Fprintf(logw, "==> %s (%s): %s %s\n", its.Name, from, out.Result, out.Note)
	return out
}

// outcome reads TEST_OUTPUT (a pipeline result, else any task's result).
func outcome(res *pipeline.RunResult) TestOutput {
	raw, ok := testOutput(res)
	switch {
	case ok:
		out, err := ParseTestOutput(raw)
		if err != nil {
			return TestOutput{Result: v1alpha1.ResultError, Note: err.Error()}
		}
		if res.Status != pipeline.StatusSucceeded && out.Result != v1alpha1.ResultFailure && out.Result != v1alpha1.ResultError {
			out.Result, out.Note = v1alpha1.ResultFailure, "the pipeline "+strings.ToLower(res.Status)+": "+res.Reason
		}
		return out
	case res.Status == pipeline.StatusSucceeded:
		return TestOutput{Result: v1alpha1.ResultSuccess, Note: "the pipeline succeeded (it reports no TEST_OUTPUT)"}
	}
	return TestOutput{Result: v1alpha1.ResultError, Note: "the pipeline " + strings.ToLower(res.Status) + ": " + res.Reason}
}

func testOutput(res *pipeline.RunResult) (string, bool) {
	for _, r := range res.Results {
		if r.Name == "TEST_OUTPUT" {
			return r.Value.StringVal, true
		}
	}
	for _, t := range res.Tasks {
		for _, r := range t.Results {
			if r.Name == "TEST_OUTPUT" {
				return r.Value.StringVal, true
			}
		}
	}
	return "", false
}

// artifacts lists the Snapshot's images for /kiln/deps.
func artifacts(s *v1alpha1.Snapshot) ([]v1alpha1.BuildInput, error) {
	var out []v1alpha1.BuildInput
	for _, c := range s.Spec.Components {
		repo, digest, ok := oci.SplitDigest(c.ContainerImage)
		if !ok {
			return nil, fmt.Errorf("component %s: image %q is not pinned by digest", c.Name, c.ContainerImage)
		}
		out = append(out, v1alpha1.BuildInput{Component: c.Name, Repository: repo, Digest: digest})
	}
	return out, nil
}

// updateTest changes one test entry on a fresh copy of the Snapshot,
// again on a conflict (scenarios of one Snapshot finish concurrently).
func (c *Controller) updateTest(ctx context.Context, ns, name, scenario string, change func(*v1alpha1.SnapshotTest)) error {
	_, err := registry.UpdateStatus(ctx, c.reg, ns, name, func(s *v1alpha1.Snapshot) error {
		tests := append([]v1alpha1.SnapshotTest(nil), s.Status.Tests...)
		for i := range tests {
			if tests[i].Scenario == scenario {
				change(&tests[i])
			}
		}
		setTests(s, tests)
		return nil
	})
	return err
}

func (c *Controller) snapshot(ctx context.Context, ns, name string) (*v1alpha1.Snapshot, error) {
	return registry.Get[v1alpha1.Snapshot](ctx, c.reg, ns, name)
}

// scenarios lists the scenarios that apply to s.
func (c *Controller) scenarios(ctx context.Context, s *v1alpha1.Snapshot) ([]*v1alpha1.IntegrationTestScenario, error) {
	all, err := registry.List[v1alpha1.IntegrationTestScenario](ctx, c.reg, registry.ListOptions{Namespace: s.Namespace, FieldSelector: "spec.application=" + s.Spec.Application})
	if err != nil {
		return nil, err
	}
	component := ""
	if s.Labels[v1alpha1.LabelSnapshotType] == v1alpha1.SnapshotTypeComponent {
		component = s.Labels[v1alpha1.LabelComponent]
	}
	return Select(all, s, component), nil
}
