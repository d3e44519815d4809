package sandboxtest

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/sandbox"
)

// heavy serialises the tests that load the machine, across suites run in
// parallel in one test binary.
var heavy sync.Mutex

// testForkBomb: with a small process limit a fork bomb never has more
// processes than the limit, and none outlives its step. The step's
// processes are told apart on the host by their PID namespace, which the
// step prints first.
func testForkBomb(t *testing.T, s suite) {
	if e := enforcement(s.r); e.Processes == sandbox.EnforcedNone {
		t.Skipf("process limit not enforced here: %s", e.Note)
	}
	heavy.Lock()
	defer heavy.Unlock()
	const limit = 64
	ns := &firstLine{}
	var peak atomic.Int64
	stop := sample(func() { peak.Store(max(peak.Load(), int64(len(procsInNS(ns.get()))))) })
	o := s.run(t, sandbox.Step{
		Command: []string{"sh", "-c", `readlink /proc/self/ns/pid; f() { f | f & }; f; sleep 2`},
		Limits:  sandbox.Limits{Processes: limit, WallTime: 10 * time.Second},
		Stdout:  ns,
	})
	stop()
	if !strings.Contains(strings.ToLower(o.Stderr), "fork") {
		t.Fatalf("the bomb never hit the limit (no failed fork reported): %s", o)
	}
	t.Logf("peak %d processes in the step's namespace %s", peak.Load(), ns.get())
	if p := peak.Load(); p > limit {
		t.Fatalf("the step had %d processes, limit %d", p, limit)
	}
	if left := procsInNS(ns.get()); len(left) > 0 {
		t.Fatalf("processes %v of the step outlived it", left)
	}
	if o.Duration > 15*time.Second {
		t.Fatalf("step took %v", o.Duration)
	}
}

// sample calls fn every 20 ms until stopped.
func sample(fn func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			fn()
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// procsInNS lists the host processes in PID namespace ns ("pid:[…]").
func procsInNS(ns string) []int {
	if ns == "" {
		return nil
	}
	var in []int
	for _, pid := range procPids() {
		if l, _ := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "ns", "pid")); l == ns {
			in = append(in, pid)
		}
	}
	return in
}

// firstLine keeps the first line written to it.
type firstLine struct {
	mu   sync.Mutex
	buf  []byte
	line string
}

func (w *firstLine) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.line == "" {
		w.buf = append(w.buf, p...)
		if i := bytes.IndexByte(w.buf, '\n'); i >= 0 {
			w.line = string(w.buf[:i])
		}
	}
	return len(p), nil
}

func (w *firstLine) get() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.line
}

// testMemoryHog: a step allocating beyond its memory limit, in a process or
// in /tmp, is stopped; the same step within the limit succeeds.
func testMemoryHog(t *testing.T, s suite) {
	heavy.Lock()
	defer heavy.Unlock()
	lim := sandbox.Limits{Memory: 64 << 20, WallTime: 20 * time.Second}
	hog := func(bytes int) sandbox.Step {
		return sandbox.Step{Limits: lim, Command: []string{"sh", "-c",
			"x=$(busybox head -c " + strconv.Itoa(bytes) + " /dev/zero | busybox tr '\\0' a); echo ${#x}"}}
	}
	o := s.run(t, hog(4<<20))
	if strings.TrimSpace(o.Stdout) != strconv.Itoa(4<<20) {
		t.Fatalf("allocating 4 MiB under a 64 MiB limit: %s", o)
	}
	o = s.run(t, hog(512<<20))
	mustFail(t, "allocating 512 MiB under a 64 MiB limit", o)
	if strings.HasPrefix(enforcement(s.r).Memory, "cgroup") && o.Reason != sandbox.ReasonMemoryLimit {
		t.Fatalf("want reason %q, got %s", sandbox.ReasonMemoryLimit, o)
	}
	o = s.run(t, sandbox.Step{Limits: lim, Command: []string{"sh", "-c",
		"busybox head -c 536870912 /dev/zero > /tmp/fill"}})
	mustFail(t, "filling /tmp with 512 MiB under a 64 MiB limit", o)
}

// testWallTime: at the wall time the whole tree is killed, background
// children included.
func testWallTime(t *testing.T, s suite) {
	m := marker()
	o := s.run(t, sandbox.Step{
		Command: []string{"sh", "-c", "sleep " + m + " & echo started; sleep " + m},
		Limits:  sandbox.Limits{WallTime: time.Second},
	})
	if o.Reason != sandbox.ReasonTimeout || o.ExitCode == 0 || o.Stdout != "started\n" {
		t.Fatalf("want a started step stopped by timeout, got %s", o)
	}
	if o.Duration < time.Second || o.Duration > 10*time.Second {
		t.Fatalf("timed-out step took %v, want about 1 s", o.Duration)
	}
	assertNoSurvivors(t, m)
}

// testBackgroundDies: a background child does not outlive a step that exits
// normally.
func testBackgroundDies(t *testing.T, s suite) {
	m := marker()
	o := s.sh(t, "sleep "+m+" >/dev/null 2>&1 & echo $!")
	mustSucceed(t, "starting a background sleep", o)
	assertNoSurvivors(t, m)
}

// testCancel: cancelling the context kills the tree.
func testCancel(t *testing.T, s suite) {
	m := marker()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	started := &onWrite{fn: cancel}
	res, err := s.r.Run(ctx, sandbox.Step{
		RootFS:  s.env.RootFS,
		Command: []string{"sh", "-c", "sleep " + m + " & echo started; sleep " + m},
		Stdout:  started,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Reason != sandbox.ReasonCancelled || res.ExitCode == 0 || res.Duration > 10*time.Second {
		t.Fatalf("want a cancelled step, got %+v", res)
	}
	assertNoSurvivors(t, m)
	if _, err := s.r.Run(ctx, sandbox.Step{Command: []string{"true"}}); err == nil {
		t.Fatal("Run with a cancelled context: want an error")
	}
}

// onWrite calls fn on the first write.
type onWrite struct {
	once sync.Once
	fn   func()
}

func (w *onWrite) Write(p []byte) (int, error) {
	w.once.Do(w.fn)
	return len(p), nil
}

// testOutputLimit: output beyond the limit (stdout and stderr together)
// stops the step quickly; exactly the limit is kept; output within the
// limit is all kept.
func testOutputLimit(t *testing.T, s suite) {
	const limit = 1 << 20
	var buf bytes.Buffer
	o := s.run(t, sandbox.Step{Command: []string{"yes"}, Stdout: &buf, Limits: sandbox.Limits{Output: limit}})
	if o.Reason != sandbox.ReasonOutputLimit || o.ExitCode == 0 || buf.Len() != limit {
		t.Fatalf("endless output: want reason %q and %d bytes kept, got %d bytes, %+v",
			sandbox.ReasonOutputLimit, limit, buf.Len(), o.Result)
	}
	if o.Duration > 10*time.Second {
		t.Fatalf("endless output stopped after %v", o.Duration)
	}
	o = s.run(t, sandbox.Step{Limits: sandbox.Limits{Output: limit}, Command: []string{"sh", "-c",
		"busybox head -c 600000 /dev/zero; busybox head -c 600000 /dev/zero >&2; sleep 20"}})
	if o.Reason != sandbox.ReasonOutputLimit || len(o.Stdout)+len(o.Stderr) != limit {
		t.Fatalf("stdout+stderr over the limit: want reason %q, got %d+%d bytes, %+v",
			sandbox.ReasonOutputLimit, len(o.Stdout), len(o.Stderr), o.Result)
	}
	o = s.run(t, sandbox.Step{Command: []string{"busybox", "head", "-c", "1000", "/dev/zero"}, Limits: sandbox.Limits{Output: limit}})
	mustSucceed(t, "output within the limit", o)
	if len(o.Stdout) != 1000 {
		t.Fatalf("kept %d of 1000 bytes", len(o.Stdout))
	}
}

// marker is a sleep duration unique enough to find the process by.
func marker() string { return strconv.Itoa(100000000 + rand.IntN(800000000)) }

// assertNoSurvivors fails if a "sleep <m>" process exists on the host.
func assertNoSurvivors(t *testing.T, m string) {
	t.Helper()
	want := []byte("sleep\x00" + m + "\x00")
	var found []string
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		found = found[:0]
		for _, pid := range procPids() {
			b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
			if bytes.HasSuffix(b, want) {
				found = append(found, strconv.Itoa(pid))
			}
		}
		if len(found) == 0 {
			return
		}
	}
	t.Fatalf("processes of the step survived it: pids %v run sleep %s", found, m)
}
