package sandboxtest

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/sandbox"
)

// testExitCode: exit codes propagate and Duration is measured.
func testExitCode(t *testing.T, s suite) {
	mustSucceed(t, "exit 0", s.sh(t, "exit 0"))
	o := s.sh(t, "sleep 0.3; exit 7")
	if o.ExitCode != 7 || o.Reason != "" {
		t.Fatalf("want exit 7 and no reason, got %s", o)
	}
	if o.Duration < 300*time.Millisecond || o.Duration > 10*time.Second {
		t.Fatalf("Duration %v for a step sleeping 0.3 s", o.Duration)
	}
}

// testMissingCommand: a command that cannot be executed, or a working
// directory that does not exist, is an error of Run, like exec.Cmd.Start.
func testMissingCommand(t *testing.T, s suite) {
	o, err := s.try(t, sandbox.Step{Command: []string{"/no/such/kiln-command"}})
	if err == nil {
		t.Fatalf("want an error, got %s", o)
	}
	o, err = s.try(t, sandbox.Step{Command: []string{"true"}, WorkDir: "/no/such/dir"})
	if err == nil {
		t.Fatalf("missing working directory: want an error, got %s", o)
	}
	if _, err := s.try(t, sandbox.Step{}); err == nil {
		t.Fatal("a step without a command: want an error")
	}
}

// testStdio: stdin is delivered, stdout and stderr are kept apart, and one
// writer for both keeps their order.
func testStdio(t *testing.T, s suite) {
	o := s.run(t, sandbox.Step{
		Command: []string{"sh", "-c", "cat; echo to-stderr >&2"},
		Stdin:   strings.NewReader("from-stdin"),
	})
	mustSucceed(t, "cat", o)
	if o.Stdout != "from-stdin" || o.Stderr != "to-stderr\n" {
		t.Fatalf("stdout %q, stderr %q", o.Stdout, o.Stderr)
	}
	var both strings.Builder
	o = s.run(t, sandbox.Step{Command: []string{"sh", "-c", "echo 1; echo 2 >&2; echo 3"}, Stdout: &both, Stderr: &both})
	if both.String() != "1\n2\n3\n" {
		t.Fatalf("combined output %q, want 1 2 3 in order", both.String())
	}
}

// testEnvironment: nothing of the server's environment reaches the step;
// Step.Env does, with PATH and HOME defaulted.
func testEnvironment(t *testing.T, s suite) {
	o := s.run(t, sandbox.Step{Command: []string{"env"}, Env: []string{"KILN_STEP=yes"}})
	mustSucceed(t, "env", o)
	got := strings.Split(strings.TrimSpace(o.Stdout), "\n")
	if !contains(got, "KILN_STEP=yes") || !contains(got, "HOME=/tmp") || !hasPrefix(got, "PATH=/") {
		t.Fatalf("step environment %q lacks KILN_STEP, HOME=/tmp or PATH", got)
	}
	for _, kv := range os.Environ() {
		if contains(got, kv) && !strings.HasPrefix(kv, "PATH=") && !strings.HasPrefix(kv, "PWD=") {
			t.Errorf("server environment %q leaked into the step", kv)
		}
	}
	o = s.run(t, sandbox.Step{Command: []string{"sh", "-c", "echo $PATH"}, Env: []string{"PATH=/bin:/usr/bin"}})
	if strings.TrimSpace(o.Stdout) != "/bin:/usr/bin" {
		t.Fatalf("PATH %q, want the step's", o.Stdout)
	}
	if _, err := s.try(t, sandbox.Step{Command: []string{"true"}, Env: []string{"NOEQUALS"}}); err == nil {
		t.Fatal("an environment entry without '=': want an error")
	}
}

// testUnprivileged: the step is not root and holds no capabilities.
func testUnprivileged(t *testing.T, s suite) {
	o := s.sh(t, "id -u; id -g; grep -E '^Cap(Eff|Prm|Bnd|Amb):' /proc/self/status")
	mustSucceed(t, "id", o)
	lines := strings.Split(strings.TrimSpace(o.Stdout), "\n")
	if len(lines) != 6 || lines[0] == "0" || lines[1] == "0" {
		t.Fatalf("want a non-root uid and gid, got %q", o.Stdout)
	}
	for _, l := range lines[2:] {
		if !strings.HasSuffix(l, "0000000000000000") {
			t.Errorf("capabilities not dropped: %s", l)
		}
	}
}

// testPIDNamespace: the step sees only its own processes.
func testPIDNamespace(t *testing.T, s suite) {
	o := s.sh(t, `n=0; for p in /proc/[0-9]*; do n=$((n+1)); done; echo $n`)
	mustSucceed(t, "count processes", o)
	inside, _ := strconv.Atoi(strings.TrimSpace(o.Stdout))
	host := len(procPids())
	if inside < 1 || inside > 5 || host <= inside {
		t.Fatalf("step sees %d processes (host has %d): want only its own", inside, host)
	}
}

// testDescriptors: a descriptor the server holds open without close-on-exec
// does not reach the step.
func testDescriptors(t *testing.T, s suite) {
	f, err := os.Open(os.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd, err := syscall.Dup(int(f.Fd())) // syscall.Dup leaves close-on-exec off
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	o := s.sh(t, "ls /proc/self/fd")
	mustSucceed(t, "ls", o)
	for _, n := range strings.Fields(o.Stdout) {
		if n != "0" && n != "1" && n != "2" && n != "3" { // 3: ls's own directory
			t.Errorf("descriptor %s is open in the step (server's leaked: %d)", n, fd)
		}
	}
}

// testWorkDir: WorkDir is the step's working directory.
func testWorkDir(t *testing.T, s suite) {
	ws := s.env.NewDir(t)
	o := s.run(t, sandbox.Step{
		Command: []string{"pwd"}, WorkDir: "/workspace",
		Mounts: []sandbox.Mount{{Source: ws, Target: "/workspace", Writable: true}},
	})
	if strings.TrimSpace(o.Stdout) != "/workspace" {
		t.Fatalf("pwd %q, want /workspace", o.Stdout)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func hasPrefix(list []string, p string) bool {
	for _, x := range list {
		if strings.HasPrefix(x, p) {
			return true
		}
	}
	return false
}

// procPids lists the host's processes.
func procPids() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, n)
		}
	}
	return pids
}
