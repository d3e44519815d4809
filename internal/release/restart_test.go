package release

import (
	"bytes"
	"context"
	"encoding/json"
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

// hangingRunner never finishes the first hang[role] runs of a role (until
// the controller stops: a crash); later runs succeed.
type hangingRunner struct {
	mu      sync.Mutex
	hang    map[string]int
	runs    map[string]int
	started chan string
}

func (h *hangingRunner) Run(ctx context.Context, run pipelinerun.Run) (*pipeline.RunResult, string, error) {
	role := run.Name[strings.LastIndex(run.Name, "-")+1:]
	h.mu.Lock()
	h.runs[role]++
	hang := h.runs[role] <= h.hang[role]
	h.mu.Unlock()
	h.started <- role
	if hang {
		<-ctx.Done()
		return nil, "", ctx.Err()
	}
	return &pipeline.RunResult{Status: pipeline.StatusSucceeded}, "git:" + role, nil
}

type relEnv struct {
	reg    *registry.Registry
	logs   *logstore.Store
	dir    string
	out    *lockedBuffer // the controllers' log
	st     store.Store
	runner *hangingRunner
	stop   func()
}

const gitRef = `{"pipelineRef":{"resolver":"git","params":[{"name":"url","value":"https://example.com/p.git"}]}}`

func newRelEnv(t *testing.T, hang map[string]int) *relEnv {
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
	e := &relEnv{reg: registry.New(st, sealer), logs: logs, dir: dir, out: &lockedBuffer{}, st: st, stop: func() {},
		runner: &hangingRunner{hang: hang, runs: map[string]int{}, started: make(chan string, 10)}}
	t.Cleanup(func() { e.stop(); _ = st.Close() })
	for _, kd := range [][2]string{
		{"Namespace", `{"metadata":{"name":"team"}}`},
		{"Namespace", `{"metadata":{"name":"prod"},"spec":{"type":"managed"}}`},
		{"Application", `{"metadata":{"name":"app","namespace":"team"}}`},
		{"Snapshot", `{"metadata":{"name":"s1","namespace":"team"},"spec":{"application":"app","components":[{"name":"lib","containerImage":"r.test/team/lib@sha256:` + strings.Repeat("0", 64) + `"}]}}`},
		{"ReleasePlan", `{"metadata":{"name":"rp","namespace":"team","labels":{"release.appstudio.openshift.io/auto-release":"false"}},"spec":{"application":"app","target":"prod","tenantPipeline":` + gitRef + `,"finalPipeline":` + gitRef + `}}`},
		{"Policy", `{"metadata":{"name":"p","namespace":"prod"},"spec":{"sources":[{"name":"inline","rego":[{"name":"a.rego","module":"package kiln.a\ndeny contains \"never\" if false\n"}]}]}}`},
		{"ReleasePlanAdmission", `{"metadata":{"name":"rpa","namespace":"prod"},"spec":{"origin":"team","applications":["app"],"policy":"p","pipeline":` + gitRef + `}}`},
	} {
		e.create(t, kd[0], kd[1])
	}
	s := e.get(t, "Snapshot", "s1").(*v1alpha1.Snapshot)
	s.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionTestsPassed, Status: metav1.ConditionTrue, Reason: "Passed", LastTransitionTime: metav1.Now()}}
	if _, err := registry.WriteStatus(t.Context(), e.reg, s); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *relEnv) create(t *testing.T, kind, doc string) {
	t.Helper()
	k := v1alpha1.MustLookup(kind)
	obj, err := v1alpha1.DecodeAs(k, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.reg.Create(t.Context(), k, obj, registry.CreateOptions{}); err != nil {
		t.Fatalf("creating %s: %v", kind, err)
	}
}

func (e *relEnv) get(t *testing.T, kind, name string) v1alpha1.Object {
	t.Helper()
	ns := "team"
	obj, err := e.reg.Get(t.Context(), v1alpha1.MustLookup(kind), ns, name, registry.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

// start runs a fresh release controller (a new process).
func (e *relEnv) start() {
	log := slog.New(slog.NewTextHandler(e.out, nil))
	m := controller.NewManager(e.reg, log)
	(&Controller{Runner: e.runner, Logs: e.logs, Log: log, Workers: 2}).Register(m)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Start(ctx); close(done) }()
	e.stop = func() { cancel(); <-done }
}

// crash stops the controller while a pipeline of role runs (runs of
// other roles that start first are let through).
func (e *relEnv) crash(t *testing.T, role string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case got := <-e.runner.started:
			if got == role {
				e.stop()
				return
			}
		case <-deadline:
			t.Fatalf("no %s pipeline started", role)
		}
	}
}

func (e *relEnv) waitRelease(t *testing.T, name string) *v1alpha1.Release {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if r := e.get(t, "Release", name).(*v1alpha1.Release); r.Finished() {
			return r
		}
	}
	raw, _ := json.Marshal(e.get(t, "Release", name).(*v1alpha1.Release).Status)
	t.Fatalf("release %s never finished: %s", name, raw)
	return nil
}

func runs(r *v1alpha1.Release) string {
	var out []string
	for _, p := range r.Status.Pipelines {
		out = append(out, p.Role+":"+p.Status)
	}
	return strings.Join(out, " ")
}

// A tenant pipeline a crash interrupts twice fails the Release: each
// interrupted run is in status.pipelines, and there is no third run.
func TestReleasePipelineInterruptedTwiceFails(t *testing.T) {
	t.Parallel()
	e := newRelEnv(t, map[string]int{"tenant": 2})
	e.start()
	e.create(t, "Release", `{"metadata":{"name":"r1","namespace":"team"},"spec":{"snapshot":"s1","releasePlan":"rp"}}`)
	e.crash(t, "tenant")
	e.start()
	e.crash(t, "tenant")
	e.start()
	r := e.waitRelease(t, "r1")
	if r.Status.Phase != v1alpha1.ReleaseFailed || runs(r) != "tenant:Interrupted tenant:Interrupted" {
		t.Fatalf("phase %s, runs %q", r.Status.Phase, runs(r))
	}
	for _, p := range r.Status.Pipelines {
		if p.StartTime == nil || p.CompletionTime == nil || !strings.Contains(p.Message, "restart") {
			t.Errorf("interrupted run recorded as %+v", p)
		}
	}
	if c := cond(r, v1alpha1.ConditionTenantPipelineProcessed); c == nil || c.Reason != "Interrupted" {
		t.Fatalf("condition %+v", c)
	}
}

// A managed and a final pipeline a crash interrupts once each run again:
// the interrupted first attempts are recorded next to the runs that
// finished, and the Release succeeds.
func TestInterruptedReleasePipelinesAreRecordedAndRunAgainOnce(t *testing.T) {
	t.Parallel()
	e := newRelEnv(t, map[string]int{"managed": 1, "final": 1})
	e.create(t, "Release", `{"metadata":{"name":"r2","namespace":"team"},"spec":{"snapshot":"s1","releasePlan":"rp"}}`)
	// A Release past validation and policy, about to publish.
	r := e.get(t, "Release", "r2").(*v1alpha1.Release)
	now := metav1.Now()
	r.Status = v1alpha1.ReleaseStatus{Phase: v1alpha1.ReleaseManaged, StartTime: &now, Target: "prod", Admission: "prod/rpa"}
	if _, err := e.reg.Update(t.Context(), releaseKind, r, registry.UpdateOptions{Subresource: "status"}); err != nil {
		t.Fatal(err)
	}
	e.start()
	e.crash(t, "managed")
	e.start()
	e.crash(t, "final")
	e.start()
	r = e.waitRelease(t, "r2")
	if r.Status.Phase != v1alpha1.ReleaseSucceeded || runs(r) != "managed:Interrupted managed:Succeeded final:Interrupted final:Succeeded" {
		t.Fatalf("phase %s, runs %q", r.Status.Phase, runs(r))
	}
}

func cond(r *v1alpha1.Release, typ string) *metav1.Condition {
	for i := range r.Status.Conditions {
		if r.Status.Conditions[i].Type == typ {
			return &r.Status.Conditions[i]
		}
	}
	return nil
}

// lockedBuffer collects what the controllers log.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A Release whose log cannot be opened does not advance: the controller
// says which log and retries, and the Release goes on once it can write.
func TestReleaseWaitsForItsLog(t *testing.T) {
	t.Parallel()
	e := newRelEnv(t, nil)
	blocker := filepath.Join(e.dir, "logs", "team")
	if err := os.WriteFile(blocker, []byte("in the way"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.start()
	e.create(t, "Release", `{"metadata":{"name":"r3","namespace":"team"},"spec":{"snapshot":"s1","releasePlan":"rp"}}`)
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(e.out.String(), "opening the log of Release team/r3"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no error naming the log; the controllers logged:\n%s", e.out.String())
		}
	}
	if r := e.get(t, "Release", "r3").(*v1alpha1.Release); r.Status.Phase != v1alpha1.ReleaseValidating || len(e.runner.started) != 0 {
		t.Fatalf("phase %s, %d pipelines started without a log", r.Status.Phase, len(e.runner.started))
	}
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); runs(e.get(t, "Release", "r3").(*v1alpha1.Release)) != "tenant:Succeeded"; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the tenant pipeline never ran once the log could be written: %q", runs(e.get(t, "Release", "r3").(*v1alpha1.Release)))
		}
	}
	if data, err := os.ReadFile(filepath.Join(e.dir, "logs", "team", "Release", "r3.log")); err != nil || !strings.Contains(string(data), "tenant pipeline") {
		t.Fatalf("release log: %q, %v", data, err)
	}
}
