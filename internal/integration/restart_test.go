package integration

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/controller"
	"github.com/kilnbuild/kiln/internal/logstore"
	"github.com/kilnbuild/kiln/internal/pipeline"
	"github.com/kilnbuild/kiln/internal/pipelinerun"
	"github.com/kilnbuild/kiln/internal/registry"
	"github.com/kilnbuild/kiln/internal/secret"
	"github.com/kilnbuild/kiln/internal/store"
	"github.com/kilnbuild/kiln/internal/store/sqlstore"
)

// hangingRunner never finishes the first `hang` runs of each scenario
// (until the controller stops: a crash); later runs succeed.
type hangingRunner struct {
	mu      sync.Mutex
	hang    int
	runs    map[string]int
	started chan string
}

func (r *hangingRunner) Run(ctx context.Context, run pipelinerun.Run) (*pipeline.RunResult, string, error) {
	r.mu.Lock()
	r.runs[run.Name]++
	n := r.runs[run.Name]
	r.mu.Unlock()
	r.started <- run.Name
	if n <= r.hang {
		<-ctx.Done()
		return nil, "", ctx.Err()
	}
	return &pipeline.RunResult{Status: pipeline.StatusSucceeded}, "fake", nil
}

type testEnv struct {
	reg    *registry.Registry
	logs   *logstore.Store
	dir    string
	st     store.Store
	runner *hangingRunner
	stop   func()
}

func newTestEnv(t *testing.T, hang int) *testEnv {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(dir, "kiln.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := secret.LoadOrCreateKey(filepath.Join(dir, "key"))
	sealer, _ := secret.New(key)
	logs, err := logstore.Open(filepath.Join(dir, "logs"))
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{reg: registry.New(st, sealer), logs: logs, dir: dir, st: st, runner: &hangingRunner{hang: hang, runs: map[string]int{}, started: make(chan string, 10)}}
	for _, kd := range [][2]string{{"Namespace", `{"metadata":{"name":"team"}}`}, {"Application", `{"metadata":{"name":"app","namespace":"team"}}`},
		{"IntegrationTestScenario", `{"metadata":{"name":"smoke","namespace":"team"},"spec":{"application":"app","resolverRef":{"resolver":"git","params":[{"name":"url","value":"https://example.com/t.git"}]}}}`}} {
		e.create(t, kd[0], kd[1])
	}
	t.Cleanup(func() { e.stop(); _ = st.Close() })
	e.start()
	return e
}

func (e *testEnv) create(t *testing.T, kind, doc string) {
	t.Helper()
	k := v1alpha1.MustLookup(kind)
	obj, err := v1alpha1.DecodeAs(k, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.reg.Create(t.Context(), k, obj, registry.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// start runs a fresh integration controller (a new process: it runs
// nothing yet).
func (e *testEnv) start() {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := controller.NewManager(e.reg, log)
	c := &Controller{Runner: e.runner, Logs: e.logs, Log: log, Workers: 2}
	c.Register(m)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Start(ctx); close(done) }()
	e.stop = func() { cancel(); <-done; c.Wait() }
}

func (e *testEnv) test(t *testing.T) v1alpha1.SnapshotTest {
	t.Helper()
	obj, err := e.reg.Get(t.Context(), snapshotKind, "team", "s1", registry.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tests := obj.(*v1alpha1.Snapshot).Status.Tests; len(tests) == 1 {
		return tests[0]
	}
	return v1alpha1.SnapshotTest{}
}

func (e *testEnv) waitTest(t *testing.T, what string, cond func(v1alpha1.SnapshotTest) bool) v1alpha1.SnapshotTest {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if tt := e.test(t); cond(tt) {
			return tt
		}
	}
	raw, _ := json.Marshal(e.test(t))
	t.Fatalf("timed out waiting for %s: %s", what, raw)
	return v1alpha1.SnapshotTest{}
}

// crash stops the controller while the scenario runs, leaving it Running
// as a killed process would.
func (e *testEnv) crash(t *testing.T) {
	t.Helper()
	<-e.runner.started
	e.waitTest(t, "the run to start", func(tt v1alpha1.SnapshotTest) bool { return tt.State == v1alpha1.TestRunning })
	e.stop()
	obj, _ := e.reg.Get(t.Context(), snapshotKind, "team", "s1", registry.GetOptions{})
	s := obj.(*v1alpha1.Snapshot)
	if s.Status.Tests[0].State != v1alpha1.TestRunning { // the stopping controller may have written its end
		s.Status.Tests[0].State, s.Status.Tests[0].Result, s.Status.Tests[0].CompletionTime = v1alpha1.TestRunning, "", nil
		s.Status.Tests[0].Runs[len(s.Status.Tests[0].Runs)-1].CompletionTime = nil
		if _, err := e.reg.Update(t.Context(), snapshotKind, s, registry.UpdateOptions{Subresource: "status"}); err != nil {
			t.Fatal(err)
		}
	}
}

const snapshotDoc = `{"metadata":{"name":"s1","namespace":"team"},"spec":{"application":"app","components":[{"name":"lib","containerImage":"r.test/team/lib@sha256:0000000000000000000000000000000000000000000000000000000000000000"}]}}`

// A scenario run a crash interrupts runs again once, and both runs are
// recorded.
func TestInterruptedTestRunsAgainOnce(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, 1)
	e.create(t, "Snapshot", snapshotDoc)
	e.crash(t)
	e.start()
	tt := e.waitTest(t, "the test to finish", func(tt v1alpha1.SnapshotTest) bool { return tt.State == v1alpha1.TestFinished })
	if tt.Result != v1alpha1.ResultSuccess || tt.Attempts != 2 || !tt.Interrupted || len(tt.Runs) != 2 ||
		!tt.Runs[0].Interrupted || tt.Runs[0].CompletionTime == nil || tt.Runs[1].Result != v1alpha1.ResultSuccess {
		raw, _ := json.Marshal(tt)
		t.Fatalf("after one interruption: %s", raw)
	}
}

// A second interruption ends the test with ERROR: it is not run again
// without limit.
func TestTestInterruptedTwiceFails(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, 3)
	e.create(t, "Snapshot", snapshotDoc)
	e.crash(t)
	e.start()
	e.crash(t)
	e.start()
	tt := e.waitTest(t, "the test to end", func(tt v1alpha1.SnapshotTest) bool { return tt.State == v1alpha1.TestFinished })
	if tt.Result != v1alpha1.ResultError || tt.Attempts != 2 || len(tt.Runs) != 2 || !tt.Runs[1].Interrupted || !strings.Contains(tt.Note, "interrupted twice") {
		raw, _ := json.Marshal(tt)
		t.Fatalf("after two interruptions: %s", raw)
	}
	obj, _ := e.reg.Get(t.Context(), snapshotKind, "team", "s1", registry.GetOptions{})
	if st, _, _ := Verdict(obj.(*v1alpha1.Snapshot).Status.Tests); st != string(metav1.ConditionFalse) {
		t.Fatalf("verdict %s, want False", st)
	}
}

// A scenario whose log cannot be opened does not run: it ends with ERROR,
// the note naming the log (its output is never silently dropped).
func TestTestWithoutItsLogErrs(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, 0)
	if err := os.WriteFile(filepath.Join(e.dir, "logs", "team"), []byte("in the way"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.create(t, "Snapshot", snapshotDoc)
	tt := e.waitTest(t, "the test to end", func(tt v1alpha1.SnapshotTest) bool { return tt.State == v1alpha1.TestFinished })
	if tt.Result != v1alpha1.ResultError || !strings.Contains(tt.Note, "opening the log of Snapshot team/s1 (smoke)") {
		t.Fatalf("result %s, note %q; want ERROR naming the log", tt.Result, tt.Note)
	}
	select {
	case name := <-e.runner.started:
		t.Fatalf("%s ran without its log", name)
	default:
	}
}
