package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/kilnbuild/kiln/internal/sandbox"
	"github.com/kilnbuild/kiln/internal/tenantfs"
)

// errUnavailable marks a reference to a result that does not exist because
// its task did not run (the referencing task is skipped).
var errUnavailable = errors.New("unavailable")

// prefetch runs every prefetch step first, in plan order, with network.
// A failing one fails its task and the run.
func (e *executor) prefetch(ctx context.Context) {
	for _, t := range e.plan.Tasks {
		if t.Skip != "" || !hasPrefetch(t) || e.stopping() || ctx.Err() != nil {
			continue
		}
		tr := e.runs[t.Name]
		tr.Start = e.opts.Now()
		if err := e.dirs.prepareTask(t); err != nil {
			e.failTask(tr, StatusFailed, err.Error())
			return
		}
		for i, s := range t.Steps {
			if !s.Prefetch {
				continue
			}
			sr := e.runStep(ctx, t, i, s)
			if failedStep(sr, s) {
				e.failTask(tr, sr.Status, fmt.Sprintf("prefetch step %s: %s", s.Name, sr.Reason))
				return
			}
		}
	}
	e.res.Prefetched = recordFiles(e.dirs.prefetch())
}

func hasPrefetch(t *PlanTask) bool {
	for _, s := range t.Steps {
		if s.Prefetch {
			return true
		}
	}
	return false
}

func failedStep(sr *StepRun, s *PlanStep) bool {
	return sr.Status != StatusSucceeded && !(sr.Status == StatusFailed && s.OnError == "continue")
}

// failTask ends a task with a status and reason and fails the run.
func (e *executor) failTask(tr *TaskRun, status, reason string) {
	tr.Status, tr.Reason = status, reason
	if tr.Start.IsZero() {
		tr.Start = e.opts.Now()
	}
	tr.End = e.opts.Now()
	e.setFailed("task " + tr.Name + ": " + reason)
}

// runTask runs one task's (non-prefetch) steps and reads its results.
func (e *executor) runTask(ctx context.Context, t *PlanTask) {
	tr := e.runs[t.Name]
	if tr.Status != StatusNotRun {
		return // its prefetch failed
	}
	steps, status, reason := e.prepare(t)
	if status != "" {
		tr.Status, tr.Reason = status, reason
		if status != StatusSkipped {
			e.failTask(tr, status, reason)
		}
		return
	}
	if tr.Start.IsZero() {
		tr.Start = e.opts.Now()
	}
	if err := e.dirs.prepareTask(t); err != nil {
		e.failTask(tr, StatusFailed, err.Error())
		return
	}
	if t.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(t.Timeout))
		defer cancel()
	}
	status, reason = e.runSteps(ctx, t, steps)
	if status == StatusSucceeded {
		status, reason = e.readResults(t)
	}
	tr.Status, tr.Reason, tr.End = status, reason, e.opts.Now()
	if status != StatusSucceeded {
		e.setFailed("task " + t.Name + ": " + reason)
	}
}

// runSteps runs the steps in order; after a failure the rest are skipped.
func (e *executor) runSteps(ctx context.Context, t *PlanTask, steps []*PlanStep) (string, string) {
	if runner, ok := e.opts.Runner.(sandbox.TaskRunner); ok && !continuesOnError(steps) {
		return e.runStepsTogether(ctx, runner, t, steps)
	}
	tr := e.runs[t.Name]
	status, reason := StatusSucceeded, ""
	for i, s := range steps {
		sr := tr.Steps[i]
		switch {
		case s.Prefetch && sr.Status != StatusNotRun:
			continue // ran in the prefetch phase
		case status != StatusSucceeded:
			sr.Status, sr.Reason = StatusSkipped, "an earlier step failed"
			continue
		}
		sr = e.runStep(ctx, t, i, s)
		if failedStep(sr, s) {
			status, reason = sr.Status, fmt.Sprintf("step %s: %s", s.Name, sr.Reason)
		}
	}
	return status, reason
}

// prepare decides whether the task runs: skipped by a when expression
// (static or evaluated now), skipped because a result it uses belongs to a
// task that did not run, failed because a finished task lacks the result.
// It returns the steps with task results substituted.
func (e *executor) prepare(t *PlanTask) ([]*PlanStep, string, string) {
	if t.Skip != "" {
		return nil, StatusSkipped, t.Skip
	}
	look := e.runtimeLookup()
	for _, w := range t.When {
		in, err1 := substString(w.Input, look)
		values, err2 := substList(w.Values, look)
		if err := errors.Join(err1, err2); err != nil {
			return nil, unavailableStatus(err), "when: " + err.Error()
		}
		if ev := (WhenExpression{Input: in, Operator: w.Operator, Values: values}); !ev.holds() {
			return nil, StatusSkipped, ev.describe() + " is false"
		}
	}
	steps := make([]*PlanStep, len(t.Steps))
	for i, s := range t.Steps {
		rs, err := resolveStep(s, look)
		if err != nil {
			return nil, unavailableStatus(err), fmt.Sprintf("step %s: %v", s.Name, err)
		}
		steps[i] = rs
	}
	return steps, "", ""
}

func unavailableStatus(err error) string {
	if errors.Is(err, errUnavailable) {
		return StatusSkipped
	}
	return StatusFailed
}

// resolveStep substitutes task results and statuses in a step.
func resolveStep(s *PlanStep, look lookup) (*PlanStep, error) {
	rs := *s
	var errs [5]error
	rs.Script, errs[0] = substString(s.Script, look)
	rs.Command, errs[1] = substList(s.Command, look)
	rs.Args, errs[2] = substList(s.Args, look)
	rs.WorkingDir, errs[3] = substString(s.WorkingDir, look)
	rs.Env = make([]Env, len(s.Env))
	for i, env := range s.Env {
		rs.Env[i] = env
		if rs.Env[i].Value, errs[4] = substString(env.Value, look); errs[4] != nil {
			break
		}
	}
	return &rs, errors.Join(errs[:]...)
}

// runtimeLookup resolves $(tasks.T.results.R), $(tasks.T.status) and
// $(tasks.status) from what has run.
func (e *executor) runtimeLookup() lookup {
	return func(ref varRef) (ParamValue, bool, error) {
		if ref.root != "tasks" {
			return ParamValue{}, true, nil
		}
		p := ref.parts
		switch {
		case len(p) == 1 && p[0] == "status":
			return String(e.aggregateStatus()), false, nil
		case len(p) == 2 && p[1] == "status":
			return String(e.taskStatus(p[0])), false, nil
		case len(p) >= 3 && p[1] == "results":
			return e.resultRef(ref)
		}
		return ParamValue{}, false, fmt.Errorf("%s: unexpected reference", ref.text)
	}
}

func (e *executor) resultRef(ref varRef) (ParamValue, bool, error) {
	task, name := ref.parts[0], ref.parts[2]
	e.mu.Lock()
	v, ok := e.results[task][name]
	e.mu.Unlock()
	tr := e.runs[task]
	switch {
	case !ok && tr != nil && tr.Status == StatusSucceeded:
		return ParamValue{}, false, fmt.Errorf("%s: task %s did not write result %s", ref.text, task, name)
	case !ok:
		return ParamValue{}, false, fmt.Errorf("%s: task %s did not run: %w", ref.text, task, errUnavailable)
	}
	key := ""
	if len(ref.parts) == 4 {
		key = ref.parts[3]
	}
	v, err := selectValue(ref, v, key)
	return v, false, err
}

// taskStatus is Tekton's $(tasks.T.status): Succeeded, Failed or None.
func (e *executor) taskStatus(name string) string {
	switch e.runs[name].Status {
	case StatusSucceeded:
		return StatusSucceeded
	case StatusFailed, StatusTimedOut, StatusCancelled:
		return StatusFailed
	}
	return "None"
}

// aggregateStatus is Tekton's $(tasks.status): Failed if a task failed,
// Succeeded if all succeeded, Completed if the others were skipped.
func (e *executor) aggregateStatus() string {
	status := StatusSucceeded
	for _, t := range e.plan.Tasks {
		switch e.taskStatus(t.Name) {
		case StatusFailed:
			return StatusFailed
		case "None":
			status = "Completed"
		}
	}
	return status
}

// readResults reads the task's result files.
func (e *executor) readResults(t *PlanTask) (string, string) {
	tr := e.runs[t.Name]
	results, err := tenantfs.Open(e.dirs.results(t.Name), "the task's results directory ("+ResultsDir+")")
	if err != nil {
		return StatusFailed, err.Error()
	}
	defer results.Close()
	got := map[string]ParamValue{}
	for _, r := range t.Results {
		v, ok, err := readResult(results, r, e.opts.MaxResultSize)
		if err != nil {
			return StatusFailed, err.Error()
		}
		if ok {
			got[r.Name] = v
			tr.Results = append(tr.Results, NamedValue{r.Name, v})
		}
	}
	e.mu.Lock()
	e.results[t.Name] = got
	e.mu.Unlock()
	return StatusSucceeded, ""
}

// readResult reads one result file; a missing file is no result. One
// trailing newline is dropped. A step writes the file: it must be a
// regular file of the results directory, not a link out of it nor a FIFO.
func readResult(results *tenantfs.Tree, r ResultDecl, limit int64) (ParamValue, bool, error) {
	buf, err := results.ReadFile(r.Name, limit)
	if errors.Is(err, fs.ErrNotExist) {
		return ParamValue{}, false, nil
	}
	if errors.Is(err, tenantfs.ErrEscapes) || errors.Is(err, tenantfs.ErrNotRegular) {
		return ParamValue{}, false, fmt.Errorf("result %s: %w; write the value into $(results.%s.path) itself", r.Name, err, r.Name)
	}
	if err != nil {
		return ParamValue{}, false, fmt.Errorf("result %s: %w", r.Name, err)
	}
	s := strings.TrimSuffix(string(buf), "\n")
	if r.Type == TypeString {
		return String(s), true, nil
	}
	var raw any
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return ParamValue{}, false, fmt.Errorf("result %s: expected a JSON %s: %v", r.Name, r.Type, err)
	}
	v, err := paramValueOf(raw)
	if err == nil && v.Type != r.Type {
		err = fmt.Errorf("got %s", article(orString(v.Type)))
	}
	if err != nil {
		return ParamValue{}, false, fmt.Errorf("result %s: expected a JSON %s: %v", r.Name, r.Type, err)
	}
	return v, true, nil
}

// runStep runs one step in the sandbox and records it.
func (e *executor) runStep(ctx context.Context, t *PlanTask, i int, s *PlanStep) *StepRun {
	sr := e.runs[t.Name].Steps[i]
	sr.Start, sr.Network = e.opts.Now(), s.Prefetch
	defer func() {
		sr.End = e.opts.Now()
		sr.Duration = Duration(sr.End.Sub(sr.Start))
	}()
	step, err := e.sandboxStep(ctx, t, i, s, sr)
	if err != nil {
		sr.Status, sr.ExitCode, sr.Reason = StatusFailed, -1, err.Error()
		return sr
	}
	log := e.stepLog(t.Name, s.Name)
	step.Stdout, step.Stderr = log, log
	res, err := e.opts.Runner.Run(ctx, step)
	log.Flush()
	sr.ExitCode = res.ExitCode
	sr.Status, sr.Reason = stepStatus(ctx, res, err)
	return sr
}

// stepStatus interprets how a step ended.
func stepStatus(ctx context.Context, res sandbox.Result, err error) (string, string) {
	switch {
	case err != nil:
		return StatusFailed, "could not run: " + err.Error()
	case res.Reason == "" && res.ExitCode == 0:
		return StatusSucceeded, ""
	case res.Reason == "timeout" || errors.Is(ctx.Err(), context.DeadlineExceeded):
		return StatusTimedOut, "timed out"
	case res.Reason == "cancelled" || ctx.Err() != nil:
		return StatusCancelled, "cancelled"
	case res.Reason != "":
		return StatusFailed, res.Reason
	}
	return StatusFailed, fmt.Sprintf("exit code %d", res.ExitCode)
}

// sandboxStep builds the sandbox step: image, command, environment, mounts
// and limits.
func (e *executor) sandboxStep(ctx context.Context, t *PlanTask, i int, s *PlanStep, sr *StepRun) (sandbox.Step, error) {
	rootfs, rootMounts, err := e.stepRoot(t, s, sr)
	if err != nil {
		return sandbox.Step{}, err
	}
	env, err := e.stepEnv(ctx, s)
	if err != nil {
		return sandbox.Step{}, err
	}
	cmd := append(append([]string{}, s.Command...), s.Args...)
	if s.Script != "" {
		path, err := e.dirs.writeScript(t.Name, i, s)
		if err != nil {
			return sandbox.Step{}, err
		}
		cmd = append([]string{path}, s.Args...)
	}
	wd := s.WorkingDir
	if wd == "" {
		wd = "/"
	}
	mounts, err := e.dirs.mounts(t, s.Prefetch)
	if err != nil {
		return sandbox.Step{}, err
	}
	if e.opts.Buildroot != "" {
		mounts = append(mounts, sandbox.Mount{Source: e.opts.Buildroot, Target: BuildrootDir})
	}
	mounts = append(rootMounts, mounts...)
	return sandbox.Step{
		RootFS: rootfs, Image: imageRef(s.Image, sr.ImageDigest), Command: cmd, Env: env, WorkDir: wd,
		Mounts: mounts, Network: s.Prefetch, Limits: e.stepLimits(ctx, s),
	}, nil
}

// stepRoot is the step's root filesystem: its image's, or the task's root
// workspace, writable (AnnotationRootWorkspace).
func (e *executor) stepRoot(t *PlanTask, s *PlanStep, sr *StepRun) (string, []sandbox.Mount, error) {
	if t.RootWorkspace == "" || s.Prefetch {
		rootfs, digest, err := e.images.resolve(s.Image)
		sr.ImageDigest = digest
		return rootfs, nil, err
	}
	for _, w := range t.Workspaces {
		if w.Name != t.RootWorkspace {
			continue
		}
		dir, err := e.dirs.realDir(filepath.Join(e.dirs.workspace(w.Workspace), filepath.FromSlash(w.SubPath)), true)
		if err != nil {
			return "", nil, fmt.Errorf("root workspace %s: %w", w.Name, err)
		}
		mounts, err := sandbox.WritableRoot(dir)
		return dir, mounts, err
	}
	return "", nil, fmt.Errorf("root workspace %q is not a workspace of task %s", t.RootWorkspace, t.Name)
}

// stepEnv is the step's environment: Kiln's, RunOptions.Env, then the
// step's own (secrets resolved).
func (e *executor) stepEnv(ctx context.Context, s *PlanStep) ([]string, error) {
	home := HomeDir
	if s.Prefetch {
		home = HomeDir + "/prefetch"
	}
	env := []string{"HOME=" + home, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "KILN_PREFETCH_DIR=" + PrefetchDir}
	env = append(env, e.opts.Env...)
	for _, v := range s.Env {
		if v.Secret == nil {
			env = append(env, v.Name+"="+v.Value)
			continue
		}
		val, err := e.secret(ctx, *v.Secret)
		if err != nil {
			return nil, fmt.Errorf("env %s: secret %s key %s: %w", v.Name, v.Secret.Name, v.Secret.Key, err)
		}
		env = append(env, v.Name+"="+val)
	}
	return env, nil
}

func (e *executor) secret(ctx context.Context, ref SecretRef) (string, error) {
	if e.opts.Secret == nil {
		return "", errors.New("no secrets are available to this run")
	}
	return e.opts.Secret(ctx, ref)
}

// stepLimits applies the step's timeout and memory limit, and the time
// left before the task's deadline.
func (e *executor) stepLimits(ctx context.Context, s *PlanStep) sandbox.Limits {
	l := e.opts.Limits
	if s.Timeout > 0 {
		l.WallTime = time.Duration(s.Timeout)
	}
	if d, ok := ctx.Deadline(); ok {
		if left := time.Until(d); l.WallTime == 0 || left < l.WallTime {
			l.WallTime = max(left, time.Millisecond)
		}
	}
	if s.Memory > 0 {
		l.Memory = s.Memory
	}
	return l
}
