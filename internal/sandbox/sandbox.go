// Package sandbox runs build steps in isolation: no network (loopback only)
// unless a step is a prefetch step (then outbound only, in its own network
// namespace), a read-only root filesystem (an OCI image's, or the host's),
// a read-only /proc, writable workspace and tmp only, its own PID
// namespace, an unprivileged host user, and limits on memory, processes,
// wall time and output.
//
// Runner is the one interface every sandbox backend implements (bubblewrap
// today); sandboxtest holds the conformance suite they all pass.
package sandbox

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Mount exposes a host directory inside the sandbox.
type Mount struct {
	Source   string // host path
	Target   string // path inside the sandbox
	Writable bool
	// Within, when set, is a directory Source lies in whose content steps
	// write (a run's workspaces). Source must then be a directory reached
	// from Within through real directories only (a symbolic link on the
	// way, even one staying inside, is an error). Every source is mounted
	// by the descriptor the server opened and checked, so a link a running
	// step swaps in after the check cannot redirect the mount.
	Within string
}

// WritableRoot returns the mounts that make the root filesystem dir
// writable for a step that has it as its RootFS: each top-level directory
// bound writable over itself (links stay links), except those the sandbox
// makes itself (/dev, /proc, /sys, /tmp). Each mount is resolved within
// dir. The step must run as a user that owns dir (Lease.Own).
func WritableRoot(dir string) ([]Mount, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading root filesystem %s: %w", dir, err)
	}
	var mounts []Mount
	for _, e := range entries {
		if skipImageEntry[e.Name()] || !e.IsDir() {
			continue
		}
		mounts = append(mounts, Mount{Source: filepath.Join(dir, e.Name()), Target: "/" + e.Name(), Writable: true, Within: dir})
	}
	return mounts, nil
}

// Limits bound one step. Zero values select the backend's defaults.
type Limits struct {
	Memory    int64         // bytes
	Processes int           // max tasks (threads + processes)
	WallTime  time.Duration // the whole process tree is killed after this
	Output    int64         // bytes of stdout+stderr kept; the step fails beyond it
}

// Step is one command to run.
type Step struct {
	// RootFS is the root filesystem: an unpacked image directory, or "" for
	// the host's root (read-only).
	RootFS string
	// Image is the step's image reference, by digest when it has one
	// (repository@sha256:…), or "" for the host's root: what a backend
	// that pulls images itself (Kubernetes) runs; RootFS is the same image
	// unpacked, for backends that run a directory.
	Image string
	// Command is argv; Command[0] is resolved inside the sandbox.
	Command []string
	Env     []string // KEY=VALUE; nothing is inherited from the server
	WorkDir string   // inside the sandbox
	// Mounts: typically the workspace (writable) and inputs (read-only).
	Mounts []Mount
	// Network gives the step outbound network access from its own network
	// namespace (never the host's loopback); only prefetch steps set it.
	Network bool
	Limits  Limits
	Stdin   io.Reader
	// Stdout and Stderr receive the step's output (may be the same writer).
	Stdout, Stderr io.Writer
}

// Result is how a step ended.
type Result struct {
	ExitCode int
	// Reason is empty on a normal exit, otherwise why the step was stopped:
	// "timeout", "cancelled", "output-limit", "memory-limit".
	Reason   string
	Duration time.Duration
}

// Runner runs steps. Run returns an error only when the step could not be
// run at all; a step that ran and failed returns a Result with a non-zero
// ExitCode (or a Reason).
type Runner interface {
	Run(ctx context.Context, step Step) (Result, error)
	// Name identifies the backend in provenance ("bubblewrap").
	Name() string
}

// A Lease lends one unprivileged host user to a run (a build, a test, a
// release): every step run through it runs as that user, so the steps can
// share a workspace, and no step of another run does until it is released.
type Lease interface {
	Runner
	// HostUser is the host uid and gid the lease's steps run as.
	HostUser() (uid, gid int)
	// Own gives the lease's user the server's files and directories under
	// path, so that its steps can write there; Release gives them back.
	Own(path string) error
	// Release gives back what Own gave and returns the user to the pool.
	// The lease cannot run steps afterwards.
	Release() error
}

// TaskRunner is implemented by backends that run all the steps of a task
// together, in order, sharing their mounts (Kubernetes: one Pod per task,
// the steps its containers). RunTask stops at the first step that fails;
// it returns the results of the steps that ran, in order (fewer than
// steps when one failed), and an error only when the task could not be
// run at all. start(i) is called as step i starts and returns the writer
// of its output. All steps of a task have the same mounts.
type TaskRunner interface {
	Runner
	RunTask(ctx context.Context, steps []Step, start func(i int) io.Writer) ([]Result, error)
}

// Leaser is implemented by runners whose steps run as leased host users.
type Leaser interface {
	Lease() (Lease, error)
}

// Enforcement says how a runner bounds memory and processes on this machine:
// "cgroup-v1", "rlimit", or "none" when the limit cannot be enforced; and
// which seccomp filter every step runs under.
type Enforcement struct {
	Memory    string
	Processes string
	// Seccomp identifies the syscall filter: "sha256:" and the first 12 hex
	// digits of the program's digest (its version), or "none".
	Seccomp string
	// HostUser says which host user steps run as: "per-run uid from
	// 2000000000-2000065535", "uid N" (a lease, or Options.HostUID), or
	// "server's own uid N" when the server is not root.
	HostUser string
	// Network names what gives Network steps their outbound connectivity
	// ("slirp4netns"), or "unavailable: …" saying what to install.
	Network string
	// Note says why a preferred mechanism is not in force, if it is not.
	Note string
}

// Enforcer is implemented by runners that can report their Enforcement; the
// conformance suite uses it to skip tests of limits that are not in force,
// and provenance may record it.
type Enforcer interface {
	Enforcement() Enforcement
}
