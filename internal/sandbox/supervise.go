package sandbox

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Reasons a step was stopped (Result.Reason).
const (
	ReasonTimeout     = "timeout"
	ReasonCancelled   = "cancelled"
	ReasonOutputLimit = "output-limit"
	ReasonMemoryLimit = "memory-limit"
)

// killGrace is how long the bwrap monitor may take to reap a killed sandbox
// before it is killed too.
const killGrace = 5 * time.Second

// supervise waits for the step to end, stopping it on cancellation, on
// timeout or when its output exceeds the limit, and then reports how it
// ended.
func (e *execution) supervise(ctx context.Context, wall time.Duration) (Result, error) {
	done := make(chan error, 1)
	go func() { done <- e.cmd.Wait() }()
	timer := time.NewTimer(wall)
	defer timer.Stop()
	var waitErr error
	select {
	case waitErr = <-done:
	case <-ctx.Done():
		waitErr = e.stop(ReasonCancelled, done)
	case <-timer.C:
		waitErr = e.stop(ReasonTimeout, done)
	case <-e.overflow:
		waitErr = e.stop(ReasonOutputLimit, done)
	}
	select {
	case <-e.overflow: // the step failed even if it ended on its own
		e.setReason(ReasonOutputLimit)
	default:
	}
	return e.finish(waitErr)
}

// stop kills the sandbox and waits for bwrap to exit. Only the sandboxed
// child is killed at first, so that the bwrap monitor reaps it and reports
// its status; the monitor is killed only if it fails to exit in time.
func (e *execution) stop(reason string, done <-chan error) error {
	e.setReason(reason)
	e.killChild()
	t := time.AfterFunc(killGrace, func() { _ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL) })
	defer t.Stop()
	return <-done
}

func (e *execution) setReason(r string) {
	select {
	case e.reason <- r:
	default: // a reason was already set; the first one stands
	}
}

func (e *execution) getReason() string {
	select {
	case r := <-e.reason:
		e.reason <- r
		return r
	default:
		return ""
	}
}

// finish builds the Result once bwrap has exited.
func (e *execution) finish(waitErr error) (Result, error) {
	res := Result{Duration: time.Since(e.start)}
	code, ran := e.exitCode()
	e.killChild() // normally gone already; never leave it behind
	oom := e.cgroup != nil && e.cgroup.oomKilled()
	cleanupErr := e.cleanup()
	reason := e.getReason()
	switch {
	case ran:
		res.ExitCode = code
	case reason != "":
		res.ExitCode = 128 + int(unix.SIGKILL)
	default:
		return res, e.explain(errors.New("bubblewrap could not run the step"))
	}
	if reason == "" && code != 0 && oom {
		reason = ReasonMemoryLimit
	}
	res.Reason = reason
	if err := errors.Join(copyError(waitErr), cleanupErr); err != nil {
		return res, fmt.Errorf("after running the step: %w", err)
	}
	return res, nil
}
