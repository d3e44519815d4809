package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/kilnbuild/kiln/internal/sandbox"
)

// RunOptions configure Run.
type RunOptions struct {
	// Runner runs every step. Required. A sandbox.Leaser (the bubblewrap
	// runner) lends the run one host user for all its steps, which Run
	// gives WorkspaceDir and releases at the end; a sandbox.Lease is used
	// as it is (its holder releases it).
	Runner sandbox.Runner
	// WorkspaceDir holds the run: a directory per pipeline workspace and
	// .kiln/ (results, scripts, homes, prefetch). Required; created if
	// missing. Workspace directories that exist are used as they are.
	WorkspaceDir string
	// SourceDir, when set, is copied into the "source" workspace first.
	// Leave it empty when the source is already in WorkspaceDir/source.
	SourceDir string
	// ImageResolver turns an image reference into an unpacked root
	// filesystem and the image's digest. Needed for any image but "host".
	ImageResolver func(image string) (rootfs string, digest string, err error)
	// Secret resolves valueFrom.secretKeyRef env vars. Needed when a step
	// has one.
	Secret func(ctx context.Context, ref SecretRef) (string, error)
	// Log receives every step's output, each line prefixed "[task/step] ".
	Log io.Writer
	// StepLog, when set, gives the writer of one step's output instead.
	StepLog func(task, step string) io.Writer
	// Env is added to every step's environment (KEY=VALUE).
	Env []string
	// Buildroot, when set, is a host directory mounted read-only at
	// BuildrootDir in every step: the build's dependency artifacts.
	Buildroot string
	// Concurrency bounds the tasks running at once; default the CPU count.
	Concurrency int
	// MaxResultSize bounds each result file; default 4096 bytes.
	MaxResultSize int64
	// Limits are every step's sandbox limits; a step's timeout and memory
	// limit override WallTime and Memory.
	Limits sandbox.Limits
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Statuses of tasks, steps and runs.
const (
	StatusSucceeded = "Succeeded"
	StatusFailed    = "Failed"
	StatusTimedOut  = "TimedOut"
	StatusCancelled = "Cancelled"
	StatusSkipped   = "Skipped"
	StatusNotRun    = "NotRun"
)

// RunResult is what happened in a run.
type RunResult struct {
	Pipeline   string `json:"pipeline"`
	PlanDigest string `json:"planDigest"`
	Runner     string `json:"runner"`
	// Status is Succeeded, Failed, TimedOut or Cancelled; Reason says why
	// it is not Succeeded.
	Status string    `json:"status"`
	Reason string    `json:"reason,omitempty"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	// Tasks are in plan order, finally tasks last.
	Tasks      []*TaskRun     `json:"tasks"`
	Results    []NamedValue   `json:"results,omitempty"`
	Images     []ImageUse     `json:"images,omitempty"`
	Prefetched []FileRecord   `json:"prefetched,omitempty"`
	Outputs    []OutputResult `json:"outputs,omitempty"`
}

// TaskRun is what happened to one task.
type TaskRun struct {
	Name    string       `json:"name"`
	Finally bool         `json:"finally,omitempty"`
	Status  string       `json:"status"`
	Reason  string       `json:"reason,omitempty"`
	Start   time.Time    `json:"start,omitzero"`
	End     time.Time    `json:"end,omitzero"`
	Steps   []*StepRun   `json:"steps"`
	Results []NamedValue `json:"results,omitempty"`
}

// StepRun is what happened to one step.
type StepRun struct {
	Name        string    `json:"name"`
	Image       string    `json:"image"`
	ImageDigest string    `json:"imageDigest,omitempty"`
	Prefetch    bool      `json:"prefetch,omitempty"`
	Network     bool      `json:"network,omitempty"`
	Status      string    `json:"status"`
	ExitCode    int       `json:"exitCode"`
	Reason      string    `json:"reason,omitempty"`
	Start       time.Time `json:"start,omitzero"`
	End         time.Time `json:"end,omitzero"`
	Duration    Duration  `json:"duration"`
}

// ImageUse is an image a run used and its digest ("" for host).
type ImageUse struct {
	Image  string `json:"image"`
	Digest string `json:"digest,omitempty"`
}

// FileRecord is a file prefetch steps wrote under /kiln/prefetch.
type FileRecord struct {
	Path   string `json:"path"` // relative to /kiln/prefetch
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// OutputResult is a plan output and the host directory holding its files.
type OutputResult struct {
	Output
	Path string `json:"path"`
}

// Err returns nil when the run succeeded, else an error saying why.
func (r *RunResult) Err() error {
	if r.Status == StatusSucceeded {
		return nil
	}
	return fmt.Errorf("pipeline %s %s: %s", r.Pipeline, lower(r.Status), r.Reason)
}

func lower(status string) string {
	switch status {
	case StatusTimedOut:
		return "timed out"
	case StatusNotRun:
		return "not run"
	}
	return string(status[0]|0x20) + status[1:]
}

// Task returns the run of the task named name, or nil.
func (r *RunResult) Task(name string) *TaskRun {
	for _, t := range r.Tasks {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// Run executes a plan: prefetch steps first (with network), then the tasks
// in dependency order (independent ones in parallel, up to Concurrency),
// then the finally tasks, whatever happened. A failing task stops new tasks
// from starting. Run returns an error only when the run could not start;
// a failed pipeline is a RunResult whose Err is not nil.
func Run(ctx context.Context, plan *Plan, opts RunOptions) (*RunResult, error) {
	runner, release, err := leaseRunner(opts.Runner)
	if err != nil {
		return nil, fmt.Errorf("running pipeline: %w", err)
	}
	defer func() {
		if err := release(); err != nil && opts.Log != nil {
			fmt.Fprintf(opts.Log, "==> %v\n", err)
		}
	}()
	opts.Runner = runner
	e, err := newExecutor(plan, opts)
	if err != nil {
		return nil, err
	}
	tctx, cancel := e.tasksContext(ctx)
	defer cancel()
	e.prefetch(tctx)
	e.schedule(tctx, plan.Tasks, e.opts.Concurrency)
	e.notRun(plan.Tasks, phaseReason(tctx, "an earlier task failed"))
	fctx, fcancel := e.finallyContext(ctx)
	defer fcancel()
	e.schedule(fctx, plan.Finally, e.opts.Concurrency)
	e.notRun(plan.Finally, phaseReason(fctx, "not started"))
	e.finish(ctx)
	return e.res, nil
}

// executor is the state of one Run.
type executor struct {
	plan  *Plan
	opts  RunOptions
	dirs  runDirs
	res   *RunResult
	runs  map[string]*TaskRun
	start time.Time

	mu      sync.Mutex
	results map[string]map[string]ParamValue // by task, then result
	failed  string                           // reason of the first failure
	images  imageCache
	logMu   sync.Mutex
}

func newExecutor(plan *Plan, opts RunOptions) (*executor, error) {
	if err := checkOptions(&opts); err != nil {
		return nil, err
	}
	e := &executor{plan: plan, opts: opts, runs: map[string]*TaskRun{}, results: map[string]map[string]ParamValue{}}
	e.images = newImageCache(opts.ImageResolver)
	e.start = opts.Now()
	e.res = &RunResult{Pipeline: plan.Pipeline, PlanDigest: plan.Digest(), Runner: opts.Runner.Name(), Start: e.start}
	for _, list := range [][]*PlanTask{plan.Tasks, plan.Finally} {
		for _, t := range list {
			tr := &TaskRun{Name: t.Name, Finally: t.Finally, Status: StatusNotRun}
			for _, s := range t.Steps {
				tr.Steps = append(tr.Steps, &StepRun{Name: s.Name, Image: s.Image, Prefetch: s.Prefetch, Status: StatusNotRun})
			}
			e.runs[t.Name] = tr
			e.res.Tasks = append(e.res.Tasks, tr)
		}
	}
	var err error
	e.dirs, err = prepareDirs(plan, opts)
	return e, err
}

func checkOptions(o *RunOptions) error {
	switch {
	case o.Runner == nil:
		return errors.New("running pipeline: RunOptions.Runner is required")
	case o.WorkspaceDir == "":
		return errors.New("running pipeline: RunOptions.WorkspaceDir is required")
	}
	abs, err := filepath.Abs(o.WorkspaceDir)
	if err != nil {
		return fmt.Errorf("running pipeline: workspace directory: %w", err)
	}
	o.WorkspaceDir = abs
	if o.Concurrency <= 0 {
		o.Concurrency = runtime.NumCPU()
	}
	if _, ok := o.Runner.(sandbox.TaskRunner); ok {
		// A task's mounts are copied in and back out whole: two tasks
		// at once would overwrite each other's workspace changes.
		o.Concurrency = 1
	}
	if o.MaxResultSize <= 0 {
		o.MaxResultSize = 4096
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return nil
}

// tasksContext bounds the prefetch and tasks phases by timeouts.tasks
// (else timeouts.pipeline).
func (e *executor) tasksContext(ctx context.Context) (context.Context, context.CancelFunc) {
	t := e.plan.Timeouts
	switch {
	case t != nil && t.Tasks > 0:
		return context.WithDeadline(ctx, e.start.Add(time.Duration(t.Tasks)))
	case t != nil && t.Pipeline > 0:
		return context.WithDeadline(ctx, e.start.Add(time.Duration(t.Pipeline)))
	}
	return context.WithCancel(ctx)
}

// finallyContext bounds the finally phase by what is left of
// timeouts.pipeline and by timeouts.finally.
func (e *executor) finallyContext(ctx context.Context) (context.Context, context.CancelFunc) {
	t := e.plan.Timeouts
	deadline := time.Time{}
	if t != nil && t.Pipeline > 0 {
		deadline = e.start.Add(time.Duration(t.Pipeline))
	}
	if t != nil && t.Finally > 0 {
		if d := e.opts.Now().Add(time.Duration(t.Finally)); deadline.IsZero() || d.Before(deadline) {
			deadline = d
		}
	}
	if deadline.IsZero() {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, deadline)
}

func phaseReason(ctx context.Context, otherwise string) string {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return "the pipeline timed out"
	case ctx.Err() != nil:
		return "the run was cancelled"
	}
	return otherwise
}

// notRun gives the tasks that never started their reason.
func (e *executor) notRun(tasks []*PlanTask, reason string) {
	for _, t := range tasks {
		if tr := e.runs[t.Name]; tr.Status == StatusNotRun && tr.Reason == "" {
			tr.Reason = reason
		}
	}
}

// setFailed records the first failure.
func (e *executor) setFailed(reason string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.failed == "" {
		e.failed = reason
	}
}

func (e *executor) stopping() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.failed != ""
}

// schedule runs tasks in dependency order, at most limit at once. A task
// starts when every task it runs after has finished; none starts once a
// task failed or ctx is done.
func (e *executor) schedule(ctx context.Context, tasks []*PlanTask, limit int) {
	done := make(chan *PlanTask)
	started := map[string]bool{}
	finished := map[string]bool{}
	running := 0
	for {
		for _, t := range tasks {
			if running >= limit || ctx.Err() != nil || (!t.Finally && e.stopping()) {
				break
			}
			if started[t.Name] || !depsFinished(t, finished) {
				continue
			}
			started[t.Name] = true
			running++
			go func() { e.runTask(ctx, t); done <- t }()
		}
		if running == 0 {
			return
		}
		t := <-done
		running--
		finished[t.Name] = true
	}
}

func depsFinished(t *PlanTask, finished map[string]bool) bool {
	if t.Finally {
		return true
	}
	for _, d := range t.RunAfter {
		if !finished[d] {
			return false
		}
	}
	return true
}

// finish computes the run's status, results, images, outputs.
func (e *executor) finish(ctx context.Context) {
	r := e.res
	r.End = e.opts.Now()
	r.Status, r.Reason = StatusSucceeded, ""
	for _, tr := range r.Tasks {
		if tr.Status == StatusFailed || tr.Status == StatusTimedOut || tr.Status == StatusCancelled {
			r.Status, r.Reason = tr.Status, "task "+tr.Name+": "+tr.Reason
			break
		}
	}
	if ctx.Err() != nil {
		r.Status, r.Reason = StatusCancelled, "the run was cancelled"
	} else if r.Status == StatusSucceeded && e.failed != "" {
		r.Status, r.Reason = StatusFailed, e.failed
	}
	r.Results = e.pipelineResults()
	r.Images = e.images.used()
	e.outputs()
	sort.Slice(r.Images, func(i, j int) bool { return r.Images[i].Image < r.Images[j].Image })
}

// outputs lists the plan's outputs. An output is read by the server after
// the run (packed, digested, listed in the SBOM): it must be a real
// directory of its workspace, not below a link a step planted.
func (e *executor) outputs() {
	r := e.res
	for _, o := range e.plan.Outputs {
		p, err := e.dirs.realDir(filepath.Join(e.dirs.workspace(o.Workspace), filepath.FromSlash(o.SubPath)), false)
		if err != nil {
			if r.Status == StatusSucceeded {
				r.Status, r.Reason = StatusFailed, fmt.Sprintf("output %s: %v", o.Name, err)
			}
			continue
		}
		r.Outputs = append(r.Outputs, OutputResult{Output: o, Path: p})
	}
}

// pipelineResults computes the pipeline's results; those that use missing
// task results are left out.
func (e *executor) pipelineResults() []NamedValue {
	var out []NamedValue
	look := e.runtimeLookup()
	for _, nv := range e.plan.Results {
		v, err := substValue(nv.Value, look)
		if err == nil {
			out = append(out, NamedValue{nv.Name, v})
		}
	}
	return out
}

// leaseRunner returns the runner steps run with and what releases it: a
// Leaser's new lease, or the runner itself.
func leaseRunner(r sandbox.Runner) (sandbox.Runner, func() error, error) {
	none := func() error { return nil }
	switch l := r.(type) {
	case sandbox.Lease:
		return l, none, nil
	case sandbox.Leaser:
		lease, err := l.Lease()
		if err != nil {
			return nil, none, err
		}
		return lease, lease.Release, nil
	}
	return r, none, nil
}

// ownWorkspace gives the run's directories to the host user its steps run
// as, and says so in the log when that user is not the server's own.
func ownWorkspace(opts RunOptions) error {
	l, ok := opts.Runner.(sandbox.Lease)
	if !ok {
		return nil
	}
	if err := l.Own(opts.WorkspaceDir); err != nil {
		return fmt.Errorf("running pipeline: %w", err)
	}
	if uid, gid := l.HostUser(); uid != os.Geteuid() {
		fmt.Fprintf(opts.Log, "==> steps run as host user %d:%d\n", uid, gid)
	}
	return nil
}

// newRunDirs lays the run out in opts.WorkspaceDir. With a lease of
// another host user, directories made while the steps run are that user's.
func newRunDirs(opts RunOptions) runDirs {
	d := runDirs{root: opts.WorkspaceDir}
	if l, ok := opts.Runner.(sandbox.Lease); ok {
		if uid, gid := l.HostUser(); uid != os.Geteuid() {
			d.owner = &hostUser{uid: uid, gid: gid}
		}
	}
	return d
}

// prepareDirs creates the workspaces, .kiln/ and every task's directories,
// copies the source, and gives it all to the steps' host user.
func prepareDirs(plan *Plan, opts RunOptions) (runDirs, error) {
	d := newRunDirs(opts)
	for _, w := range plan.Workspaces {
		if err := os.MkdirAll(d.workspace(w), 0o755); err != nil {
			return d, fmt.Errorf("creating workspace %s: %w", w, err)
		}
	}
	if err := os.MkdirAll(d.prefetch(), 0o755); err != nil {
		return d, fmt.Errorf("creating prefetch directory: %w", err)
	}
	for _, list := range [][]*PlanTask{plan.Tasks, plan.Finally} {
		for _, t := range list {
			if err := d.prepareTask(t); err != nil {
				return d, err
			}
		}
	}
	if opts.SourceDir != "" && slices.Contains(plan.Workspaces, "source") {
		if err := copyTree(opts.SourceDir, d.workspace("source"), opts.WorkspaceDir); err != nil {
			return d, fmt.Errorf("copying the source into the workspace: %w", err)
		}
	}
	return d, ownWorkspace(opts)
}
