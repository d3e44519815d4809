package sandbox_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/sandbox"
	"github.com/kilnbuild/kiln/internal/sandbox/sandboxtest"
)

// requireBwrap skips when bubblewrap, a static busybox (which the suite's
// steps use) or slirp4netns (network steps) is not installed, unless CI or KILN_REQUIRE_SANDBOX is set: then
// their absence fails the test.
func requireBwrap(t testing.TB) {
	t.Helper()
	missing := ""
	if _, err := exec.LookPath("bwrap"); err != nil {
		missing = "bwrap (apt-get install bubblewrap)"
	} else if bb, err := exec.LookPath("busybox"); err != nil || exec.Command("ldd", bb).Run() == nil {
		missing = "a static busybox (apt-get install busybox-static)"
	} else if _, err := exec.LookPath("slirp4netns"); err != nil {
		missing = "slirp4netns (apt-get install slirp4netns)"
	}
	if missing == "" {
		return
	}
	if os.Getenv("CI") != "" || os.Getenv("KILN_REQUIRE_SANDBOX") != "" {
		t.Fatalf("%s is not installed; scripts/test-deps.sh installs it", missing)
	}
	t.Skipf("%s is not installed; set KILN_REQUIRE_SANDBOX=1 to fail instead", missing)
}

func newRunner(t testing.TB, opts sandbox.Options) *sandbox.Bubblewrap {
	t.Helper()
	requireBwrap(t)
	r, err := sandbox.NewBubblewrap(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestBubblewrap runs the conformance suite with the host's root.
func TestBubblewrap(t *testing.T) {
	t.Parallel()
	r := newRunner(t, sandbox.Options{})
	t.Logf("enforcement: %+v", r.Enforcement())
	sandboxtest.Exercise(t, r, sandboxtest.Env{})
}

// TestBubblewrapImageRootFS runs the suite in a busybox image directory and
// checks that nothing of the host's root shows through.
func TestBubblewrapImageRootFS(t *testing.T) {
	t.Parallel()
	r := newRunner(t, sandbox.Options{})
	root := busyboxRoot(t)
	t.Run("HostRootInvisible", func(t *testing.T) {
		var out strings.Builder
		res, err := r.Run(context.Background(), sandbox.Step{RootFS: root, Stdout: &out, Stderr: &out,
			Command: []string{"busybox", "sh", "-c", "ls /; test -e /usr || test -e /etc || echo no-host-dirs"}})
		if err != nil || res.ExitCode != 0 {
			t.Fatalf("busybox sh in the image: %+v %v: %s", res, err, out.String())
		}
		if got := strings.Fields(out.String()); !slices.Equal(got, []string{"bin", "dev", "proc", "tmp", "no-host-dirs"}) {
			t.Fatalf("image root shows %q, want only bin dev proc tmp", got)
		}
		if _, err := os.Stat(filepath.Join(root, "dev")); err == nil {
			t.Fatal("the image directory was written to")
		}
	})
	sandboxtest.Exercise(t, r, sandboxtest.Env{RootFS: root})
}

// TestBubblewrapRlimitFallback runs the suite with cgroups off, every step
// through one Lease (as the steps of a build run), so that RLIMIT_NPROC
// binds the lease's host user.
func TestBubblewrapRlimitFallback(t *testing.T) {
	t.Parallel()
	r := newRunner(t, sandbox.Options{DisableCgroups: true})
	if e := r.Enforcement(); e.Memory != sandbox.EnforcedRlimit || e.Processes != sandbox.EnforcedRlimit {
		t.Fatalf("enforcement %+v, want rlimits", e)
	}
	l := newLease(t, r)
	sandboxtest.Exercise(t, l, sandboxtest.Env{NewDir: func(t *testing.T) string { return ownedDir(t, l) }})
}

// TestRlimitAsRootLimitsProcesses: without cgroups, as host root, the
// process limit is still enforced: steps never run as host uid 0, which
// RLIMIT_NPROC does not bind.
func TestRlimitAsRootLimitsProcesses(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("about host root")
	}
	e := newRunner(t, sandbox.Options{DisableCgroups: true}).Enforcement()
	if e.Memory != sandbox.EnforcedRlimit || e.Processes != sandbox.EnforcedRlimit {
		t.Fatalf("enforcement %+v", e)
	}
}

// newLease leases a host user for the rest of the test.
func newLease(t *testing.T, r *sandbox.Bubblewrap) sandbox.Lease {
	t.Helper()
	l, err := r.Lease()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Release(); err != nil {
			t.Error(err)
		}
	})
	return l
}

// ownedDir returns a new directory given to the lease.
func ownedDir(t *testing.T, l sandbox.Lease) string {
	t.Helper()
	dir := t.TempDir()
	if err := l.Own(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// busyboxRoot builds an image directory holding only busybox and its
// applet links.
func busyboxRoot(t *testing.T) string {
	t.Helper()
	bb, err := exec.LookPath("busybox") // static: checked by requireBwrap
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	bin := filepath.Join(root, "bin")
	data, err := os.ReadFile(bb)
	if err == nil {
		err = os.MkdirAll(bin, 0o755)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(bin, "busybox"), data, 0o755)
	}
	applets, lerr := exec.Command(bb, "--list").Output()
	if err != nil || lerr != nil {
		t.Fatal(err, lerr)
	}
	for _, a := range strings.Fields(string(applets)) {
		if a == "busybox" {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(bin, a)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestEmptyStepMedian logs the median and p90 of 50 empty steps (no timing
// assertion: see BenchmarkEmptyStep).
func TestEmptyStepMedian(t *testing.T) {
	r := newRunner(t, sandbox.Options{})
	d := make([]time.Duration, 50)
	for i := range d {
		start := time.Now()
		if res, err := r.Run(context.Background(), sandbox.Step{Command: []string{"/bin/true"}}); err != nil || res.ExitCode != 0 {
			t.Fatalf("/bin/true: %+v %v", res, err)
		}
		d[i] = time.Since(start)
	}
	slices.Sort(d)
	t.Logf("empty step (%s): median %v, p90 %v, max %v over %d runs",
		r.Enforcement().Memory, d[len(d)/2], d[len(d)*9/10], d[len(d)-1], len(d))
}

// BenchmarkEmptyStep: go test -run '^$' -bench EmptyStep ./internal/sandbox/
func BenchmarkEmptyStep(b *testing.B) {
	r := newRunner(b, sandbox.Options{})
	step := sandbox.Step{Command: []string{"/bin/true"}}
	for b.Loop() {
		if res, err := r.Run(context.Background(), step); err != nil || res.ExitCode != 0 {
			b.Fatalf("/bin/true: %+v %v", res, err)
		}
	}
}

// BenchmarkNetworkStep: go test -run '^$' -bench NetworkStep ./internal/sandbox/
// (an empty prefetch step: its own network namespace and slirp4netns).
func BenchmarkNetworkStep(b *testing.B) {
	r := newRunner(b, sandbox.Options{})
	step := sandbox.Step{Command: []string{"/bin/true"}, Network: true}
	for b.Loop() {
		if res, err := r.Run(context.Background(), step); err != nil || res.ExitCode != 0 {
			b.Fatalf("/bin/true: %+v %v", res, err)
		}
	}
}
