// Package sandboxtest is the conformance suite every sandbox.Runner must
// pass. It proves each isolation property by attempting the forbidden thing
// (and checking it failed) next to the allowed counterpart (and checking it
// worked), so that a test cannot pass because nothing works at all.
//
// A backend test runs it:
//
//	func TestConformance(t *testing.T) {
//		r, err := sandbox.NewBubblewrap(sandbox.Options{})
//		if err != nil {
//			t.Fatal(err)
//		}
//		sandboxtest.Exercise(t, r, sandboxtest.Env{})
//	}
//
// Steps run sh and busybox (wget, httpd, head, tr, find, ip, nslookup)
// from the sandbox's PATH, so the root filesystem used (the host's, or
// Env.RootFS) must provide them. Network tests need a non-loopback address
// on the host (outbound connectivity is proven against it, not the
// internet); the DNS test skips when the host resolves no name.
package sandboxtest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/sandbox"
)

// Env describes the machine the suite runs on.
type Env struct {
	// RootFS is every step's root filesystem; "" is the host's.
	RootFS string
	// NewDir returns a new empty host directory that steps may mount, and
	// write to when the mount is writable. Nil means t.TempDir.
	NewDir func(t *testing.T) string
}

// suite is what each test receives.
type suite struct {
	r   sandbox.Runner
	env Env
}

type test struct {
	name     string
	fn       func(*testing.T, suite)
	parallel bool
}

// Exercise runs the whole suite against r. Tests that load the machine (fork
// bomb, memory hog) run first and alone; the rest run in parallel.
func Exercise(t *testing.T, r sandbox.Runner, env Env) {
	if env.NewDir == nil {
		env.NewDir = func(t *testing.T) string { return t.TempDir() }
	}
	s := suite{r: r, env: env}
	for _, tc := range tests() {
		t.Run(tc.name, func(t *testing.T) {
			if tc.parallel {
				t.Parallel()
			}
			tc.fn(t, s)
		})
	}
}

func tests() []test {
	return []test{
		{"ForkBombContained", testForkBomb, false},
		{"MemoryHogKilled", testMemoryHog, false},
		{"ExitCodeAndDuration", testExitCode, true},
		{"MissingCommandIsError", testMissingCommand, true},
		{"StdioSeparated", testStdio, true},
		{"EnvironmentCleared", testEnvironment, true},
		{"UnprivilegedUser", testUnprivileged, true},
		{"PIDNamespace", testPIDNamespace, true},
		{"NoLeakedDescriptors", testDescriptors, true},
		{"WorkDir", testWorkDir, true},
		{"NoNetworkHostLoopback", testNoNetworkLoopback, true},
		{"NoNetworkAnyAddress", testNoNetworkAnyAddress, true},
		{"AbstractSocketHidden", testAbstractSocketHidden, true},
		{"NetworkDNS", testNetworkDNS, true},
		{"NothingWritableInProc", testNothingWritableInProc, true},
		{"HostUser", testHostUser, true},
		{"LoopbackInside", testLoopbackInside, true},
		{"RootReadOnly", testRootReadOnly, true},
		{"FreshTmp", testFreshTmp, true},
		{"HostDirsHidden", testHostDirsHidden, true},
		{"DataDirHidden", testDataDirHidden, true},
		{"OtherWorkspaceHidden", testOtherWorkspaceHidden, true},
		{"MountModes", testMountModes, true},
		{"WallTimeKillsTree", testWallTime, true},
		{"BackgroundDiesWithStep", testBackgroundDies, true},
		{"CancelKillsTree", testCancel, true},
		{"OutputLimit", testOutputLimit, true},
	}
}

// out is what a step printed and how it ended.
type out struct {
	sandbox.Result
	Stdout, Stderr string
}

func (o out) String() string {
	return fmt.Sprintf("exit %d, reason %q\nstdout: %s\nstderr: %s", o.ExitCode, o.Reason,
		clip(o.Stdout), clip(o.Stderr))
}

// run runs step with the suite's root filesystem, a bounded wall time and
// captured output, failing the test if the step could not be run.
func (s suite) run(t *testing.T, step sandbox.Step) out {
	t.Helper()
	o, err := s.try(t, step)
	if err != nil {
		t.Fatalf("Run(%q): %v", step.Command, err)
	}
	return o
}

func (s suite) try(t *testing.T, step sandbox.Step) (out, error) {
	t.Helper()
	return s.tryCtx(context.Background(), step)
}

// tryCtx runs step like try, until ctx is done.
func (s suite) tryCtx(ctx context.Context, step sandbox.Step) (out, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	step.RootFS = s.env.RootFS
	if step.Limits.WallTime == 0 {
		step.Limits.WallTime = 20 * time.Second
	}
	var stdout, stderr bytes.Buffer
	if step.Stdout == nil {
		step.Stdout = &stdout
	}
	if step.Stderr == nil {
		step.Stderr = &stderr
	}
	res, err := s.r.Run(ctx, step)
	return out{Result: res, Stdout: stdout.String(), Stderr: stderr.String()}, err
}

// sh runs a shell script.
func (s suite) sh(t *testing.T, script string, mounts ...sandbox.Mount) out {
	t.Helper()
	return s.run(t, sandbox.Step{Command: []string{"sh", "-c", script}, Mounts: mounts})
}

// mustSucceed fails unless the step exited 0 without a reason.
func mustSucceed(t *testing.T, what string, o out) {
	t.Helper()
	if o.ExitCode != 0 || o.Reason != "" {
		t.Fatalf("%s: want success, got %s", what, o)
	}
}

// mustFail fails unless the step exited non-zero.
func mustFail(t *testing.T, what string, o out) {
	t.Helper()
	if o.ExitCode == 0 {
		t.Fatalf("%s: want failure, got %s", what, o)
	}
}

func enforcement(r sandbox.Runner) sandbox.Enforcement {
	if e, ok := r.(sandbox.Enforcer); ok {
		return e.Enforcement()
	}
	return sandbox.Enforcement{}
}

// clip shortens long output in failure messages.
func clip(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "…"
	}
	return s
}

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
