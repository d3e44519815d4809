// Package pipelinetest holds test doubles for the pipeline executor.
package pipelinetest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kilnbuild/kiln/internal/sandbox"
)

// FakeRunner is a TEST DOUBLE of sandbox.Runner. It isolates nothing: it
// runs each step's command on the host with os/exec, rewriting the
// sandbox paths of the step's mounts (in the command, script files, args,
// env and working directory) to their host directories. It ignores RootFS,
// Network and read-only mounts, and records every step it ran. It enforces
// Limits.WallTime and the context.
type FakeRunner struct {
	mu    sync.Mutex
	calls []Call
}

// Call is a step the FakeRunner ran.
type Call struct {
	Step       sandbox.Step
	Start, End time.Time
	Result     sandbox.Result
}

var _ sandbox.Runner = (*FakeRunner)(nil)

// Name is "fake".
func (r *FakeRunner) Name() string { return "fake" }

// Calls returns the steps run so far, in the order they started.
func (r *FakeRunner) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]Call{}, r.calls...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// Run runs the step's command on the host.
func (r *FakeRunner) Run(ctx context.Context, step sandbox.Step) (sandbox.Result, error) {
	call := Call{Step: step, Start: time.Now()}
	res, err := r.run(ctx, step)
	call.End, call.Result = time.Now(), res
	r.mu.Lock()
	r.calls = append(r.calls, call)
	r.mu.Unlock()
	return res, err
}

func (r *FakeRunner) run(ctx context.Context, step sandbox.Step) (sandbox.Result, error) {
	if len(step.Command) == 0 {
		return sandbox.Result{}, errors.New("fake runner: empty command")
	}
	if step.Limits.WallTime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, step.Limits.WallTime)
		defer cancel()
	}
	rw := rewriter(step.Mounts)
	argv, err := hostCommand(step.Command, rw)
	if err != nil {
		return sandbox.Result{}, err
	}
	start := time.Now()
	err = runRetrying(ctx, argv, step, rw)
	res := sandbox.Result{Duration: time.Since(start)}
	var exit *exec.ExitError
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		res.ExitCode, res.Reason = -1, "timeout"
	case ctx.Err() != nil:
		res.ExitCode, res.Reason = -1, "cancelled"
	case errors.As(err, &exit):
		res.ExitCode = exit.ExitCode()
	case err != nil:
		return res, err
	}
	return res, nil
}

// runRetrying runs the command, retrying while exec fails with "text file
// busy": a script just written may still be open in a process forked
// concurrently by another test goroutine.
func runRetrying(ctx context.Context, argv []string, step sandbox.Step, rw *strings.Replacer) error {
	for try := 0; ; try++ {
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Dir = rw.Replace(step.WorkDir)
		for _, e := range step.Env {
			cmd.Env = append(cmd.Env, rw.Replace(e))
		}
		cmd.Stdin, cmd.Stdout, cmd.Stderr = step.Stdin, step.Stdout, step.Stderr
		cmd.WaitDelay = time.Second
		err := cmd.Run()
		if !errors.Is(err, syscall.ETXTBSY) || try == 20 {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rewriter maps sandbox paths to host paths, longest target first.
func rewriter(mounts []sandbox.Mount) *strings.Replacer {
	ms := append([]sandbox.Mount{}, mounts...)
	sort.Slice(ms, func(i, j int) bool { return len(ms[i].Target) > len(ms[j].Target) })
	var pairs []string
	for _, m := range ms {
		pairs = append(pairs, m.Target, m.Source)
	}
	return strings.NewReplacer(pairs...)
}

// hostCommand rewrites argv; a command that is a file inside a mount (a
// step script) is copied with its content rewritten too.
func hostCommand(argv []string, rw *strings.Replacer) ([]string, error) {
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = rw.Replace(a)
	}
	if out[0] == argv[0] {
		return out, nil
	}
	data, err := os.ReadFile(out[0])
	if err != nil {
		return out, nil // not a file: a directory-relative command
	}
	f, err := os.CreateTemp(filepath.Dir(out[0]), ".fake-*")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.WriteString(rw.Replace(string(data))); err != nil {
		return nil, err
	}
	if err := f.Chmod(0o755); err != nil {
		return nil, err
	}
	out[0] = f.Name()
	return out, nil
}
