package release

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/controller"
	"github.com/kilnbuild/kiln/internal/integration"
	"github.com/kilnbuild/kiln/internal/logstore"
	"github.com/kilnbuild/kiln/internal/pipeline"
	"github.com/kilnbuild/kiln/internal/pipelinerun"
	"github.com/kilnbuild/kiln/internal/registry"
)

// maxRetries bounds the retries of a transient failure per phase.
const maxRetries = 3

var (
	releaseKind = v1alpha1.MustLookup("Release")
	secretKind  = v1alpha1.MustLookup("Secret")
)

// Runner runs a pipeline in the sandbox (pipelinerun.Runner).
type Runner interface {
	Run(ctx context.Context, r pipelinerun.Run) (*pipeline.RunResult, string, error)
}

// Controller runs Releases.
type Controller struct {
	reg       *registry.Registry
	Runner    Runner
	Checker   *PolicyChecker
	Publisher *Publisher
	// Logs keeps one log per Release (every phase appends).
	Logs *logstore.Store
	// Workers is how many Releases advance at once (default 2).
	Workers int
	Log     *slog.Logger
	Now     func() time.Time
}

// Register adds the release and auto-release controllers to m.
func (c *Controller) Register(m *controller.Manager) {
	c.reg = m.Registry()
	if c.Workers <= 0 {
		c.Workers = 2
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Checker != nil && c.Checker.Now == nil {
		c.Checker.Now = c.Now
	}
	if c.Publisher != nil && c.Publisher.Secrets == nil {
		c.Publisher.Secrets = c.secret
	}
	m.Register("release", controller.For(c.reg, c.reconcile), controller.Options{Workers: c.Workers},
		controller.Source{Kind: "Release"})
	// One worker: auto-release decisions are serialised, so two Snapshots
	// passing at once cannot both be judged "newest".
	m.Register("auto-release", controller.For(c.reg, c.autoRelease), controller.Options{Workers: 1},
		controller.Source{Kind: "Snapshot"})
}

func (c *Controller) reconcile(ctx context.Context, r *v1alpha1.Release) (controller.Result, error) {
	if r.Finished() {
		return c.expire(ctx, r)
	}
	if markInterrupted(r, metav1.NewTime(c.Now())) {
		return controller.Result{}, c.write(ctx, r) // the write brings the Release back here
	}
	if r.Status.Phase == "" {
		return controller.Result{}, c.start(ctx, r)
	}
	return c.logged(ctx, r)
}

// logged runs the current phase with the Release's log. A log that
// cannot be opened or written fails the reconcile, which is retried with
// backoff, the error naming the log: no phase runs without its log, and
// lost output is never silent.
func (c *Controller) logged(ctx context.Context, r *v1alpha1.Release) (controller.Result, error) {
	logw, err := c.Logs.Append(logstore.Key{Kind: logstore.Release, Namespace: r.Namespace, Name: r.Name})
	if err != nil {
		return controller.Result{}, err
	}
	res, err := c.step(ctx, r, logw)
	if cerr := logw.Close(); err == nil {
		err = cerr
	}
	return res, err
}

// step runs the Release's current phase; a phase whose pipeline a crash
// interrupted twice is not run a third time.
func (c *Controller) step(ctx context.Context, r *v1alpha1.Release, log io.Writer) (controller.Result, error) {
	if role := phaseRole[r.Status.Phase]; role != "" && interruptions(r, role) >= maxInterruptions {
		return controller.Result{}, c.interruptedTooOften(ctx, r, role)
	}
	switch r.Status.Phase {
	case v1alpha1.ReleaseValidating:
		return c.validate(ctx, r)
	case v1alpha1.ReleaseTenant:
		return controller.Result{}, c.tenant(ctx, r, log)
	case v1alpha1.ReleasePolicy:
		return controller.Result{}, c.policy(ctx, r, log)
	case v1alpha1.ReleaseManaged:
		return c.managed(ctx, r, log)
	case v1alpha1.ReleaseFinal:
		return controller.Result{}, c.final(ctx, r, log)
	}
	return controller.Result{}, nil
}

// start records who released and when, and enters validation.
func (c *Controller) start(ctx context.Context, r *v1alpha1.Release) error {
	now := metav1.NewTime(c.Now())
	r.Status.StartTime = &now
	r.Status.Phase = v1alpha1.ReleaseValidating
	r.Status.Attribution = v1alpha1.ReleaseAttribution{Author: r.Labels[v1alpha1.LabelAuthor], Automated: r.Labels[v1alpha1.LabelAutomated] == "true"}
	setCond(r, v1alpha1.ConditionReleased, metav1.ConditionUnknown, "Progressing", "validating")
	return c.write(ctx, r)
}

func (c *Controller) validate(ctx context.Context, r *v1alpha1.Release) (controller.Result, error) {
	in, err := c.inputs(ctx, r)
	if err != nil {
		var nf *missing
		if errors.As(err, &nf) {
			return controller.Result{}, c.fail(ctx, r, v1alpha1.ConditionValidated, "NotFound", err.Error())
		}
		return controller.Result{}, err
	}
	v := Validate(in)
	switch {
	case v.Wait:
		if setCond(r, v1alpha1.ConditionValidated, metav1.ConditionUnknown, v.Reason, v.Message) {
			if err := c.write(ctx, r); err != nil {
				return controller.Result{}, err
			}
		}
		return controller.Result{RequeueAfter: 2 * time.Second}, nil
	case !v.OK():
		return controller.Result{}, c.fail(ctx, r, v1alpha1.ConditionValidated, v.Reason, v.Message)
	}
	r.Status.Target = in.Plan.Spec.Target
	r.Status.Admission = v.Admission.Namespace + "/" + v.Admission.Name
	setCond(r, v1alpha1.ConditionValidated, metav1.ConditionTrue, "Valid",
		fmt.Sprintf("admitted by %s; snapshot %s passed its tests", r.Status.Admission, in.Snapshot.Name))
	r.Status.Phase = v1alpha1.ReleasePolicy
	if in.Plan.Spec.TenantPipeline != nil {
		r.Status.Phase = v1alpha1.ReleaseTenant
	}
	return controller.Result{}, c.write(ctx, r)
}

type missing struct{ msg string }

func (m *missing) Error() string { return m.msg }

// inputs loads what validation needs.
func (c *Controller) inputs(ctx context.Context, r *v1alpha1.Release) (Inputs, error) {
	in := Inputs{Release: r}
	s, err := registry.Get[v1alpha1.Snapshot](ctx, c.reg, r.Namespace, r.Spec.Snapshot)
	if err != nil {
		return in, notFound(err, "snapshot %s not found", r.Spec.Snapshot)
	}
	p, err := registry.Get[v1alpha1.ReleasePlan](ctx, c.reg, r.Namespace, r.Spec.ReleasePlan)
	if err != nil {
		return in, notFound(err, "release plan %s not found", r.Spec.ReleasePlan)
	}
	in.Snapshot, in.Plan = s, p
	target, err := registry.Get[v1alpha1.Namespace](ctx, c.reg, "", p.Spec.Target)
	if err == nil {
		in.Target = target
	} else if !apierrors.IsNotFound(err) {
		return in, err
	}
	in.Admissions, err = registry.List[v1alpha1.ReleasePlanAdmission](ctx, c.reg, registry.ListOptions{Namespace: p.Spec.Target, FieldSelector: "spec.origin=" + r.Namespace})
	return in, err
}

func notFound(err error, format string, args ...any) error {
	if apierrors.IsNotFound(err) {
		return &missing{fmt.Sprintf(format, args...)}
	}
	return err
}

func (c *Controller) tenant(ctx context.Context, r *v1alpha1.Release, log io.Writer) error {
	p, err := registry.Get[v1alpha1.ReleasePlan](ctx, c.reg, r.Namespace, r.Spec.ReleasePlan)
	if err != nil {
		return c.fail(ctx, r, v1alpha1.ConditionTenantPipelineProcessed, "NotFound", err.Error())
	}
	if err := c.beginRun(ctx, r, "tenant", r.Namespace); err != nil {
		return err
	}
	run, ok := c.runPipeline(ctx, r, "tenant", r.Namespace, p.Spec.TenantPipeline, log)
	return c.advance(ctx, r.Namespace, r.Name, func(r *v1alpha1.Release) {
		endRun(r, run)
		if !ok {
			failInPlace(r, v1alpha1.ConditionTenantPipelineProcessed, "PipelineFailed", run.Message)
			return
		}
		setCond(r, v1alpha1.ConditionTenantPipelineProcessed, metav1.ConditionTrue, "Succeeded", run.Pipeline)
		r.Status.Phase = v1alpha1.ReleasePolicy
	})
}

func (c *Controller) policy(ctx context.Context, r *v1alpha1.Release, log io.Writer) error {
	rpa, err := c.admission(ctx, r)
	if err != nil {
		return c.fail(ctx, r, v1alpha1.ConditionPolicyPassed, "NotFound", err.Error())
	}
	pol, err := registry.Get[v1alpha1.Policy](ctx, c.reg, rpa.Namespace, rpa.Spec.Policy)
	if err != nil {
		return c.fail(ctx, r, v1alpha1.ConditionPolicyPassed, "NotFound", fmt.Sprintf("policy %s/%s: %v", rpa.Namespace, rpa.Spec.Policy, err))
	}
	s, err := registry.Get[v1alpha1.Snapshot](ctx, c.reg, r.Namespace, r.Spec.Snapshot)
	if err != nil {
		return err
	}
	verdict, full, err := c.Checker.Check(ctx, pol, s)
	if err != nil {
		return c.fail(ctx, r, v1alpha1.ConditionPolicyPassed, "PolicyError", err.Error())
	}
	for _, line := range full.Summary() {
		fmt.Fprintln(log, line)
	}
	return c.advance(ctx, r.Namespace, r.Name, func(r *v1alpha1.Release) {
		r.Status.Policy = verdict
		if !verdict.Passed {
			failInPlace(r, v1alpha1.ConditionPolicyPassed, "PolicyFailed", violationSummary(verdict))
			return
		}
		setCond(r, v1alpha1.ConditionPolicyPassed, metav1.ConditionTrue, "Passed",
			fmt.Sprintf("%s: %d rules passed, %d warnings", verdict.Policy, verdict.Successes, verdict.Warnings))
		r.Status.Phase = v1alpha1.ReleaseManaged
	})
}

// violationSummary names the first violations for the condition message.
func violationSummary(v *v1alpha1.PolicyVerdict) string {
	var parts []string
	for _, c := range v.Components {
		for _, x := range c.Violations {
			if len(parts) < 5 {
				parts = append(parts, fmt.Sprintf("%s: %s: %s", c.Name, x.Code, x.Message))
			}
		}
	}
	return fmt.Sprintf("%d violations (policy %s): %s", v.Violations, v.Policy, strings.Join(parts, "; "))
}

func (c *Controller) managed(ctx context.Context, r *v1alpha1.Release, log io.Writer) (controller.Result, error) {
	rpa, err := c.admission(ctx, r)
	if err != nil {
		return controller.Result{}, c.fail(ctx, r, v1alpha1.ConditionManagedPipelineProcessed, "NotFound", err.Error())
	}
	if rpa.Spec.Pipeline == nil {
		return controller.Result{}, c.advance(ctx, r.Namespace, r.Name, func(r *v1alpha1.Release) {
			setCond(r, v1alpha1.ConditionManagedPipelineProcessed, metav1.ConditionTrue, "NoPipeline", "the admission runs no pipeline")
			r.Status.Phase = v1alpha1.ReleaseFinal // final() finishes at once when the plan has none
		})
	}
	if name, ok := Builtin(rpa.Spec.Pipeline.PipelineRef); ok {
		if wait := c.retryWait(r); wait > 0 {
			return controller.Result{RequeueAfter: wait}, nil
		}
		return c.builtin(ctx, r, rpa, name, log)
	}
	if err := c.beginRun(ctx, r, "managed", rpa.Namespace); err != nil {
		return controller.Result{}, err
	}
	run, ok := c.runPipeline(ctx, r, "managed", rpa.Namespace, rpa.Spec.Pipeline, log)
	return controller.Result{}, c.advance(ctx, r.Namespace, r.Name, func(r *v1alpha1.Release) {
		endRun(r, run)
		c.managedDone(r, ok, run.Message, nil)
	})
}

// builtin runs a built-in release pipeline; transient errors are retried.
func (c *Controller) builtin(ctx context.Context, r *v1alpha1.Release, rpa *v1alpha1.ReleasePlanAdmission, name string, log io.Writer) (controller.Result, error) {
	s, err := registry.Get[v1alpha1.Snapshot](ctx, c.reg, r.Namespace, r.Spec.Snapshot)
	if err != nil {
		return controller.Result{}, err
	}
	data, err := c.data(ctx, r, rpa)
	if err != nil {
		return controller.Result{}, err
	}
	if err := c.beginRun(ctx, r, "managed", rpa.Namespace); err != nil {
		return controller.Result{}, err
	}
	start := metav1.NewTime(c.Now())
	fmt.Fprintf(log, "==> managed pipeline catalog:%s in %s\n", name, rpa.Namespace)
	arts, err := c.Publisher.Run(ctx, name, rpa.Namespace, s, buildNumbers(s), data, log)
	end := metav1.NewTime(c.Now())
	run := v1alpha1.ReleasePipelineRun{Role: "managed", Namespace: rpa.Namespace, Pipeline: "catalog:" + name,
		Status: pipeline.StatusSucceeded, StartTime: &start, CompletionTime: &end}
	if err != nil {
		fmt.Fprintf(log, "==> error: %v\n", err)
		run.Status, run.Message = pipeline.StatusFailed, err.Error()
		var cfgErr *ConfigError
		if !errors.As(err, &cfgErr) && retries(r, v1alpha1.ReleaseManaged) < maxRetries && ctx.Err() == nil {
			run.Message += " (transient: retrying)"
			return controller.Result{RequeueAfter: backoff(retries(r, v1alpha1.ReleaseManaged))}, c.advance(ctx, r.Namespace, r.Name, func(r *v1alpha1.Release) {
				endRun(r, run)
				r.Status.Retries = append(r.Status.Retries, v1alpha1.ReleaseRetry{Phase: v1alpha1.ReleaseManaged, Message: err.Error(), Time: end})
			})
		}
	}
	return controller.Result{}, c.advance(ctx, r.Namespace, r.Name, func(r *v1alpha1.Release) {
		endRun(r, run)
		c.managedDone(r, err == nil, run.Message, arts)
	})
}

// retryWait is how long until the next attempt after a recorded retry.
func (c *Controller) retryWait(r *v1alpha1.Release) time.Duration {
	n := retries(r, v1alpha1.ReleaseManaged)
	if n == 0 {
		return 0
	}
	last := r.Status.Retries[len(r.Status.Retries)-1].Time.Time
	return last.Add(backoff(n - 1)).Sub(c.Now())
}

func backoff(n int) time.Duration { return time.Duration(1<<n) * time.Second }

func retries(r *v1alpha1.Release, phase string) int {
	n := 0
	for _, x := range r.Status.Retries {
		if x.Phase == phase {
			n++
		}
	}
	return n
}

// managedDone records the managed pipeline's outcome; the final pipeline
// runs either way.
func (c *Controller) managedDone(r *v1alpha1.Release, ok bool, msg string, arts map[string]any) {
	if arts != nil {
		r.Status.Artifacts = arts
	}
	if !ok {
		setCond(r, v1alpha1.ConditionManagedPipelineProcessed, metav1.ConditionFalse, "PipelineFailed", msg)
	} else {
		setCond(r, v1alpha1.ConditionManagedPipelineProcessed, metav1.ConditionTrue, "Succeeded", "published")
	}
	r.Status.Phase = v1alpha1.ReleaseFinal
}

func (c *Controller) final(ctx context.Context, r *v1alpha1.Release, log io.Writer) error {
	p, err := registry.Get[v1alpha1.ReleasePlan](ctx, c.reg, r.Namespace, r.Spec.ReleasePlan)
	if err != nil || p.Spec.FinalPipeline == nil {
		return c.advance(ctx, r.Namespace, r.Name, c.finish)
	}
	if err := c.beginRun(ctx, r, "final", r.Namespace); err != nil {
		return err
	}
	run, ok := c.runPipeline(ctx, r, "final", r.Namespace, p.Spec.FinalPipeline, log)
	return c.advance(ctx, r.Namespace, r.Name, func(r *v1alpha1.Release) {
		endRun(r, run)
		if ok {
			setCond(r, v1alpha1.ConditionFinalPipelineProcessed, metav1.ConditionTrue, "Succeeded", run.Pipeline)
		} else {
			setCond(r, v1alpha1.ConditionFinalPipelineProcessed, metav1.ConditionFalse, "PipelineFailed", run.Message)
		}
		c.finish(r)
	})
}

// finish ends the Release: released when the managed pipeline succeeded.
func (c *Controller) finish(r *v1alpha1.Release) {
	now := metav1.NewTime(c.Now())
	r.Status.CompletionTime = &now
	if cond := meta.FindStatusCondition(r.Status.Conditions, v1alpha1.ConditionManagedPipelineProcessed); cond != nil && cond.Status == metav1.ConditionTrue {
		r.Status.Phase = v1alpha1.ReleaseSucceeded
		setCond(r, v1alpha1.ConditionReleased, metav1.ConditionTrue, "Succeeded", "released into "+r.Status.Target)
		return
	}
	r.Status.Phase = v1alpha1.ReleaseFailed
	msg := "the managed pipeline failed"
	if cond := meta.FindStatusCondition(r.Status.Conditions, v1alpha1.ConditionManagedPipelineProcessed); cond != nil {
		msg += ": " + cond.Message
	}
	setCond(r, v1alpha1.ConditionReleased, metav1.ConditionFalse, "Failed", msg)
}

// fail ends the Release at a phase before the managed pipeline.
func (c *Controller) fail(ctx context.Context, r *v1alpha1.Release, cond, reason, msg string) error {
	return c.advance(ctx, r.Namespace, r.Name, func(r *v1alpha1.Release) { failInPlace(r, cond, reason, msg) })
}

func failInPlace(r *v1alpha1.Release, cond, reason, msg string) {
	now := metav1.NewTime(time.Now())
	setCond(r, cond, metav1.ConditionFalse, reason, msg)
	setCond(r, v1alpha1.ConditionReleased, metav1.ConditionFalse, reason, msg)
	r.Status.Phase, r.Status.CompletionTime = v1alpha1.ReleaseFailed, &now
}

// runPipeline runs a tenant, managed or final pipeline in the sandbox.
func (c *Controller) runPipeline(ctx context.Context, r *v1alpha1.Release, role, ns string, p *v1alpha1.Pipeline, log io.Writer) (v1alpha1.ReleasePipelineRun, bool) {
	start := metav1.NewTime(c.Now())
	run := v1alpha1.ReleasePipelineRun{Role: role, Namespace: ns, StartTime: &start}
	fmt.Fprintf(log, "==> %s pipeline in %s\n", role, ns)
	offered, err := c.offered(ctx, r)
	var res *pipeline.RunResult
	if err == nil {
		res, run.Pipeline, err = c.Runner.Run(ctx, pipelinerun.Run{Namespace: ns, Name: "release-" + r.Name + "-" + role,
			Ref: p.PipelineRef, Offered: offered, Log: log, Secret: c.pipelineSecrets(ns)})
	}
	end := metav1.NewTime(c.Now())
	run.CompletionTime = &end
	switch {
	case err != nil:
		run.Status, run.Message = pipeline.StatusFailed, err.Error()
	case res.Status != pipeline.StatusSucceeded:
		run.Status, run.Message = pipeline.StatusFailed, res.Status+": "+res.Reason
	default:
		run.Status = pipeline.StatusSucceeded
	}
	fmt.Fprintf(log, "==> %s pipeline %s %s\n", role, run.Status, run.Message)
	return run, run.Status == pipeline.StatusSucceeded
}

// offered are the params release pipelines may declare.
func (c *Controller) offered(ctx context.Context, r *v1alpha1.Release) (map[string]any, error) {
	s, err := registry.Get[v1alpha1.Snapshot](ctx, c.reg, r.Namespace, r.Spec.Snapshot)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"SNAPSHOT": integration.SnapshotParam(s), "RELEASE": r.Name,
		"RELEASE_PLAN": r.Spec.ReleasePlan, "TARGET": r.Status.Target}
	if rpa, err := c.admission(ctx, r); err == nil {
		if data, err := c.data(ctx, r, rpa); err == nil {
			b, _ := json.Marshal(data)
			out["RELEASE_DATA"] = string(b)
		}
		out["RELEASE_PLAN_ADMISSION"] = rpa.Name
	}
	return out, nil
}

// data merges Release ← ReleasePlan ← Admission; the admission wins.
func (c *Controller) data(ctx context.Context, r *v1alpha1.Release, rpa *v1alpha1.ReleasePlanAdmission) (map[string]any, error) {
	p, err := registry.Get[v1alpha1.ReleasePlan](ctx, c.reg, r.Namespace, r.Spec.ReleasePlan)
	if err != nil {
		return nil, err
	}
	return MergeData(r.Spec.Data, p.Spec.Data, rpa.Spec.Data), nil
}

// pipelineSecrets resolves secretKeyRef in the namespace a pipeline runs
// in: the managed pipeline sees the managed namespace's secrets, never
// the tenant's, and the tenant's pipelines never see the managed ones.
func (c *Controller) pipelineSecrets(ns string) func(context.Context, pipeline.SecretRef) (string, error) {
	return func(ctx context.Context, ref pipeline.SecretRef) (string, error) {
		b, err := c.secret(ctx, ns, ref.Name, ref.Key)
		return string(b), err
	}
}

func (c *Controller) secret(ctx context.Context, ns, name, key string) ([]byte, error) {
	obj, err := c.reg.Get(ctx, secretKind, ns, name, registry.GetOptions{Reveal: true})
	if err != nil {
		return nil, fmt.Errorf("secret %s/%s: %w", ns, name, err)
	}
	s := obj.(*v1alpha1.Secret)
	if v, ok := s.Data[key]; ok {
		return v, nil
	}
	if v, ok := s.StringData[key]; ok {
		return []byte(v), nil
	}
	return nil, fmt.Errorf("secret %s/%s has no key %q", ns, name, key)
}

func (c *Controller) admission(ctx context.Context, r *v1alpha1.Release) (*v1alpha1.ReleasePlanAdmission, error) {
	ns, name, ok := strings.Cut(r.Status.Admission, "/")
	if !ok {
		return nil, fmt.Errorf("the release has no admission recorded")
	}
	rpa, err := registry.Get[v1alpha1.ReleasePlanAdmission](ctx, c.reg, ns, name)
	if err != nil {
		return nil, fmt.Errorf("admission %s: %w", r.Status.Admission, err)
	}
	return rpa, nil
}

// advance applies change to a fresh copy of the Release and writes it
// (again from a fresher copy after a conflict).
func (c *Controller) advance(ctx context.Context, ns, name string, change func(*v1alpha1.Release)) error {
	_, err := registry.UpdateStatus(ctx, c.reg, ns, name, func(r *v1alpha1.Release) error {
		change(r)
		return nil
	})
	return err
}

func (c *Controller) write(ctx context.Context, r *v1alpha1.Release) error {
	_, err := registry.WriteStatus(ctx, c.reg, r)
	return err
}

// setCond sets a condition; it reports whether anything changed.
func setCond(r *v1alpha1.Release, typ string, st metav1.ConditionStatus, reason, msg string) bool {
	return meta.SetStatusCondition(&r.Status.Conditions, metav1.Condition{Type: typ, Status: st, Reason: reason, Message: msg, ObservedGeneration: r.Generation})
}

// expire deletes a finished Release after its grace period.
func (c *Controller) expire(ctx context.Context, r *v1alpha1.Release) (controller.Result, error) {
	days := r.Spec.GracePeriodDays
	if days == 0 {
		days = v1alpha1.DefaultReleaseGracePeriodDays
		if p, err := registry.Get[v1alpha1.ReleasePlan](ctx, c.reg, r.Namespace, r.Spec.ReleasePlan); err == nil && p.Spec.ReleaseGracePeriodDays > 0 {
			days = p.Spec.ReleaseGracePeriodDays
		}
	}
	if r.Status.CompletionTime == nil {
		return controller.Result{}, nil
	}
	left := r.Status.CompletionTime.Add(time.Duration(days) * 24 * time.Hour).Sub(c.Now())
	if left > 0 {
		return controller.Result{RequeueAfter: min(left, 12*time.Hour)}, nil
	}
	_, _, err := c.reg.Delete(ctx, releaseKind, r.Namespace, r.Name, registry.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		err = nil
	}
	return controller.Result{}, err
}

// buildNumbers reads a Snapshot's AnnotationBuildNumbers.
func buildNumbers(s *v1alpha1.Snapshot) map[string]int64 {
	out := map[string]int64{}
	_ = json.Unmarshal([]byte(s.Annotations[v1alpha1.AnnotationBuildNumbers]), &out)
	return out
}
