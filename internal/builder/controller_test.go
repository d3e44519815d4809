package builder

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/controller"
	"github.com/kilnbuild/kiln/internal/executor"
	"github.com/kilnbuild/kiln/internal/logstore"
	"github.com/kilnbuild/kiln/internal/registry"
	"github.com/kilnbuild/kiln/internal/secret"
	"github.com/kilnbuild/kiln/internal/store"
	"github.com/kilnbuild/kiln/internal/store/sqlstore"
)

// fakeExecutor stands in for fetch+sandbox+push in controller unit tests.
type fakeExecutor struct {
	mu      sync.Mutex
	runs    int
	block   chan struct{} // when set, Execute waits on it or ctx
	fail    bool
	inputs  string
	started chan string
	// untagged counts Untag calls per build.
	untagged map[string]int
}

func (f *fakeExecutor) Untag(_ context.Context, b *v1alpha1.Build) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.untagged == nil {
		f.untagged = map[string]int{}
	}
	f.untagged[b.Name]++
	return nil
}

func (f *fakeExecutor) untags(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.untagged[name]
}

func (f *fakeExecutor) Execute(ctx context.Context, job executor.Job) (executor.Outcome, error) {
	f.mu.Lock()
	f.runs++
	f.mu.Unlock()
	if f.started != nil {
		f.started <- job.Build.Name
	}
	commit := "c0ffee"
	if r := job.Build.Spec.Revision; r != "" {
		commit = r
	}
	if prev, ok := job.Cached(ctx, f.inputs); ok {
		return executor.Outcome{Commit: commit, InputsDigest: f.inputs, Artifact: prev.Status.Artifact, CachedFrom: prev.Name}, nil
	}
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return executor.Outcome{}, ctx.Err()
		}
	}
	io.WriteString(job.Log, "step output\n")
	if f.fail {
		return executor.Outcome{Commit: "c0ffee", Failed: true, Message: "step build/make exited 2"}, nil
	}
	return executor.Outcome{Commit: commit, InputsDigest: f.inputs, Artifact: &v1alpha1.BuildArtifact{Repository: "r/ns/c", Digest: "sha256:" + strings.Repeat("a", 64)}}, nil
}

func (f *fakeExecutor) count() int { f.mu.Lock(); defer f.mu.Unlock(); return f.runs }

type env struct {
	reg  *registry.Registry
	exec *fakeExecutor
	st   store.Store
	dir  string
	stop func()
}

func setup(t *testing.T, exec *fakeExecutor) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(dir, "kiln.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := secret.LoadOrCreateKey(filepath.Join(dir, "key"))
	sealer, _ := secret.New(key)
	e := &env{reg: registry.New(st, sealer), exec: exec, st: st, dir: dir}
	e.create(t, "Namespace", "", `{"metadata":{"name":"team"}}`)
	e.create(t, "Application", "team", `{"metadata":{"name":"app"},"spec":{}}`)
	e.create(t, "Component", "team", `{"metadata":{"name":"lib"},"spec":{"application":"app","source":{"git":{"url":"https://example.com/lib.git"}}}}`)
	e.start(t)
	t.Cleanup(func() { e.stop(); _ = st.Close() })
	return e
}

func (e *env) start(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := controller.NewManager(e.reg, discard)
	(&Controllers{Executor: e.exec, Workers: 2, Logs: openLogs(t, filepath.Join(e.dir, "logs")), Log: discard}).Register(m)
	done := make(chan struct{})
	go func() { m.Start(ctx); close(done) }()
	e.stop = func() { cancel(); <-done }
}

func (e *env) create(t *testing.T, kind, ns, doc string) v1alpha1.Object {
	t.Helper()
	k, _ := v1alpha1.Lookup(kind)
	obj, err := v1alpha1.DecodeAs(k, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	obj.SetNamespace(ns)
	out, err := e.reg.Create(t.Context(), k, obj, registry.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (e *env) build(t *testing.T, name string) *v1alpha1.Build {
	t.Helper()
	obj, err := e.reg.Get(t.Context(), buildKind, "team", name, registry.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return obj.(*v1alpha1.Build)
}

func (e *env) waitPhase(t *testing.T, name, phase string) *v1alpha1.Build {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if b := e.build(t, name); b.Status.Phase == phase {
			return b
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("build %s never reached %s (now %q)", name, phase, e.build(t, name).Status.Phase)
	return nil
}

func openLogs(t *testing.T, dir string) *logstore.Store {
	t.Helper()
	logs, err := logstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return logs
}

// logPath is where build name of namespace team logs.
func logPath(t *testing.T, e *env, name string) string {
	t.Helper()
	p, err := openLogs(t, filepath.Join(e.dir, "logs")).Path(logstore.Key{Kind: logstore.Build, Namespace: "team", Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newBuild(name string) string {
	return `{"metadata":{"name":"` + name + `"},"spec":{"component":"lib","reason":{"type":"manual","by":"alice"}}}`
}

func TestBuildIsNumberedRunAndRecorded(t *testing.T) {
	t.Parallel()
	e := setup(t, &fakeExecutor{inputs: "sha256:in1"})
	e.create(t, "Build", "team", newBuild("lib-1"))
	b := e.waitPhase(t, "lib-1", v1alpha1.BuildSucceeded)
	if b.Status.BuildNumber != 1 || b.Status.Attempts != 1 || b.Status.Artifact == nil || b.Status.StartTime == nil || b.Status.CompletionTime == nil {
		t.Fatalf("status: %+v", b.Status)
	}
	// record updates the Component after the Build: poll for it.
	var cs v1alpha1.ComponentStatus
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		comp, _ := registry.Get[v1alpha1.Component](t.Context(), e.reg, "team", "lib")
		if cs = comp.Status; cs.LastBuiltCommit == "c0ffee" && cs.LatestArtifact == b.Status.Artifact.Digest {
			break
		}
	}
	if cs.LastBuiltCommit != "c0ffee" || cs.LatestArtifact != b.Status.Artifact.Digest || cs.BuildCounter != 1 {
		t.Fatalf("component status: %+v", cs)
	}
	logData, _ := os.ReadFile(logPath(t, e, "lib-1"))
	if !strings.Contains(string(logData), "step output") {
		t.Fatalf("log: %q", logData)
	}
	// Identical inputs: the second build reuses the artifact and says so.
	e.create(t, "Build", "team", newBuild("lib-2"))
	b2 := e.waitPhase(t, "lib-2", v1alpha1.BuildSucceeded)
	if b2.Status.CachedFrom != "lib-1" || b2.Status.BuildNumber != 2 || !strings.Contains(b2.Status.Message, "reused") {
		t.Fatalf("cache hit not recorded: %+v", b2.Status)
	}
}

func TestFailedBuildKeepsComponentArtifact(t *testing.T) {
	t.Parallel()
	e := setup(t, &fakeExecutor{fail: true})
	e.create(t, "Build", "team", newBuild("lib-1"))
	b := e.waitPhase(t, "lib-1", v1alpha1.BuildFailed)
	if !strings.Contains(b.Status.Message, "exited 2") {
		t.Fatalf("message: %q", b.Status.Message)
	}
	comp, _ := registry.Get[v1alpha1.Component](t.Context(), e.reg, "team", "lib")
	if comp.Status.LastBuiltCommit != "" {
		t.Fatal("a failed build set lastBuiltCommit")
	}
}

func TestCancelStopsARunningBuild(t *testing.T) {
	t.Parallel()
	fe := &fakeExecutor{block: make(chan struct{}), started: make(chan string, 1)}
	e := setup(t, fe)
	e.create(t, "Build", "team", newBuild("lib-1"))
	<-fe.started
	b := e.waitPhase(t, "lib-1", v1alpha1.BuildRunning)
	b.Spec.Cancel = true
	if _, err := e.reg.Update(t.Context(), buildKind, b, registry.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitPhase(t, "lib-1", v1alpha1.BuildCancelled)
	// Other spec changes are refused: a build is a record.
	b = e.build(t, "lib-1")
	b.Spec.Revision = "other"
	if _, err := e.reg.Update(t.Context(), buildKind, b, registry.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Fatalf("changing a build's spec: %v", err)
	}
}

func TestInterruptedBuildIsRetriedOnceAfterRestart(t *testing.T) {
	t.Parallel()
	fe := &fakeExecutor{block: make(chan struct{}), started: make(chan string, 2)}
	e := setup(t, fe)
	e.create(t, "Build", "team", newBuild("lib-1"))
	<-fe.started
	e.waitPhase(t, "lib-1", v1alpha1.BuildRunning)
	e.stop() // the "crash": the attempt's context ends, but so does the process
	// The stopped controller could not write a final status; simulate the
	// crash leaving it Running.
	b := e.build(t, "lib-1")
	b.Status.Phase, b.Status.CompletionTime = v1alpha1.BuildRunning, nil
	if _, err := e.reg.Update(t.Context(), buildKind, b, registry.UpdateOptions{Subresource: "status"}); err != nil {
		t.Fatal(err)
	}
	close(fe.block)
	e.start(t)
	b = e.waitPhase(t, "lib-1", v1alpha1.BuildSucceeded)
	if !b.Status.Interrupted || b.Status.Attempts != 2 {
		t.Fatalf("retry not recorded: attempts %d interrupted %v", b.Status.Attempts, b.Status.Interrupted)
	}
}

func TestQueuedBuildsRunAfterRestart(t *testing.T) {
	t.Parallel()
	e := setup(t, &fakeExecutor{})
	e.stop()
	e.create(t, "Build", "team", newBuild("lib-1")) // created while no controller runs
	e.start(t)
	if b := e.waitPhase(t, "lib-1", v1alpha1.BuildSucceeded); b.Status.Attempts != 1 || b.Status.Interrupted {
		t.Fatalf("status %+v", b.Status)
	}
}

// A build that started and ends other than Succeeded loses its build-N
// tag (an attempt may have tagged before a crash or a late failure); a
// succeeded one keeps it.
func TestBuildThatDoesNotSucceedIsUntagged(t *testing.T) {
	t.Parallel()
	fe := &fakeExecutor{fail: true}
	e := setup(t, fe)
	e.create(t, "Build", "team", newBuild("lib-1"))
	e.waitPhase(t, "lib-1", v1alpha1.BuildFailed)
	if fe.untags("lib-1") != 1 {
		t.Fatalf("failed build untagged %d times, want 1", fe.untags("lib-1"))
	}
	fe.mu.Lock()
	fe.fail = false
	fe.mu.Unlock()
	e.create(t, "Build", "team", newBuild("lib-2"))
	e.waitPhase(t, "lib-2", v1alpha1.BuildSucceeded)
	// The state a crash of the second attempt leaves, after it tagged.
	b := e.build(t, "lib-2")
	b.Status.Phase, b.Status.Attempts, b.Status.CompletionTime = v1alpha1.BuildRunning, 2, nil
	b.Status.Outputs = []v1alpha1.BuildArtifact{{Repository: "r/ns/c", Digest: "sha256:" + strings.Repeat("b", 64), Tags: []string{"c0ffee", "build-2"}}}
	e.stop()
	if _, err := e.reg.Update(t.Context(), buildKind, b, registry.UpdateOptions{Subresource: "status"}); err != nil {
		t.Fatal(err)
	}
	if fe.untags("lib-2") != 0 {
		t.Fatal("a succeeded build was untagged")
	}
	e.start(t)
	b = e.waitPhase(t, "lib-2", v1alpha1.BuildFailed)
	if fe.untags("lib-2") != 1 || !strings.Contains(b.Status.Message, "interrupted twice") {
		t.Fatalf("build interrupted twice: untagged %d times, message %q", fe.untags("lib-2"), b.Status.Message)
	}
}

// TestBuildFailsWhenItsLogCannotBeOpened: a build never runs without its
// log; it fails saying which log could not be opened.
func TestBuildFailsWhenItsLogCannotBeOpened(t *testing.T) {
	t.Parallel()
	fe := &fakeExecutor{}
	e := setup(t, fe)
	if err := os.WriteFile(filepath.Join(e.dir, "logs", "team"), []byte("in the way"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.create(t, "Build", "team", newBuild("lib-1"))
	b := e.waitPhase(t, "lib-1", v1alpha1.BuildFailed)
	if !strings.Contains(b.Status.Message, "opening the log of Build team/lib-1") || fe.count() != 0 {
		t.Fatalf("message %q after %d runs; want the log named and nothing run", b.Status.Message, fe.count())
	}
}
