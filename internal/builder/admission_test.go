package builder

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/controller"
	"github.com/kilnbuild/kiln/internal/executor"
	"github.com/kilnbuild/kiln/internal/registry"
	"github.com/kilnbuild/kiln/internal/secret"
	"github.com/kilnbuild/kiln/internal/store"
	"github.com/kilnbuild/kiln/internal/store/sqlstore"
)

// gateExecutor runs one build per token sent on release and reports each
// start as "namespace/name".
type gateExecutor struct {
	started chan string
	release chan struct{}
}

func newGate() *gateExecutor {
	return &gateExecutor{started: make(chan string, 64), release: make(chan struct{})}
}

func (g *gateExecutor) Execute(ctx context.Context, job executor.Job) (executor.Outcome, error) {
	g.started <- job.Build.Namespace + "/" + job.Build.Name
	select {
	case <-g.release:
		return executor.Outcome{Commit: "c0ffee"}, nil
	case <-ctx.Done():
		return executor.Outcome{}, ctx.Err()
	}
}

// next waits for the next build to start.
func (g *gateExecutor) next(t *testing.T) string {
	t.Helper()
	select {
	case s := <-g.started:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("no build started")
		return ""
	}
}

// tenantEnv is a store with namespaces a and b (annotations per namespace),
// each with component lib, and the build controllers c running.
func tenantEnv(t *testing.T, c *Controllers, annotations map[string]string) (*env, *Controllers) {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(dir, "kiln.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := secret.LoadOrCreateKey(filepath.Join(dir, "key"))
	sealer, _ := secret.New(key)
	e := &env{reg: registry.New(st, sealer), st: st, dir: dir}
	for _, ns := range []string{"a", "b"} {
		e.create(t, "Namespace", "", `{"metadata":{"name":"`+ns+`","annotations":{`+annotations[ns]+`}}}`)
		e.create(t, "Application", ns, `{"metadata":{"name":"app"},"spec":{}}`)
		e.create(t, "Component", ns, `{"metadata":{"name":"lib"},"spec":{"application":"app","source":{"git":{"url":"https://example.com/lib.git"}}}}`)
	}
	ctx, cancel := context.WithCancel(context.Background())
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := controller.NewManager(e.reg, discard)
	c.Logs, c.Log = openLogs(t, filepath.Join(dir, "logs")), discard
	c.Register(m)
	done := make(chan struct{})
	go func() { m.Start(ctx); close(done) }()
	e.stop = func() { cancel(); <-done }
	t.Cleanup(func() { e.stop(); _ = st.Close() })
	return e, c
}

func (e *env) builds(t *testing.T, ns string, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		e.create(t, "Build", ns, newBuild(fmt.Sprintf("lib-%d", i)))
	}
}

// waitWaiting waits until n builds wait for a slot.
func (c *Controllers) waitWaiting(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.adm.mu.Lock()
		got := c.adm.q.Waiting()
		c.adm.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d builds waiting, want %d", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func nsOf(started string) string { ns, _, _ := strings.Cut(started, "/"); return ns }

func TestTwoNamespacesInterleaveUnderLoad(t *testing.T) {
	t.Parallel()
	g := newGate()
	e, c := tenantEnv(t, &Controllers{Executor: g, Workers: 1}, nil)
	e.builds(t, "a", 1, 1)
	if got := g.next(t); got != "a/lib-1" {
		t.Fatalf("first build %s, want a/lib-1", got)
	}
	e.builds(t, "a", 2, 4)
	c.waitWaiting(t, 3)
	e.builds(t, "b", 1, 4)
	c.waitWaiting(t, 7)
	var order []string
	for range 7 {
		g.release <- struct{}{}
		order = append(order, nsOf(g.next(t)))
	}
	// b never ran: it gets the next slot, then the namespaces alternate.
	if got := strings.Join(order, " "); got != "b a b a b a b" {
		t.Fatalf("namespaces started in order %s, want b a b a b a b", got)
	}
	g.release <- struct{}{}
	for _, ns := range []string{"a", "b"} {
		for i := 1; i <= 4; i++ {
			name := fmt.Sprintf("lib-%d", i)
			if b := e.waitPhaseIn(t, ns, name, v1alpha1.BuildSucceeded); b.Status.Attempts != 1 {
				t.Fatalf("%s/%s attempts %d", ns, name, b.Status.Attempts)
			}
		}
	}
}

func TestLateTenantStartsAtTheNextFreeSlot(t *testing.T) {
	t.Parallel()
	g := newGate()
	e, c := tenantEnv(t, &Controllers{Executor: g, Workers: 2}, nil)
	e.builds(t, "a", 1, 20)
	first := []string{g.next(t), g.next(t)}
	c.waitWaiting(t, 18)
	e.builds(t, "b", 1, 1)
	c.waitWaiting(t, 19)
	g.release <- struct{}{}
	if got := g.next(t); got != "b/lib-1" {
		t.Fatalf("after one of %v ended, %s started; want b/lib-1", first, got)
	}
}

func TestNamespaceAnnotationLeavesASlotForOthers(t *testing.T) {
	t.Parallel()
	g := newGate()
	e, c := tenantEnv(t, &Controllers{Executor: g, Workers: 2},
		map[string]string{"a": `"` + AnnotationMaxConcurrentBuilds + `":"1"`})
	e.builds(t, "a", 1, 1)
	if got := g.next(t); got != "a/lib-1" {
		t.Fatalf("first build %s, want a/lib-1", got)
	}
	e.builds(t, "a", 2, 3)
	c.waitWaiting(t, 2) // a is at its limit although a worker is free
	e.builds(t, "b", 1, 1)
	if got := g.next(t); got != "b/lib-1" {
		t.Fatalf("second build %s, want b/lib-1", got)
	}
	if b := e.waitPhaseIn(t, "a", "lib-2", v1alpha1.BuildQueued); b.Status.StartTime != nil {
		t.Fatalf("a/lib-2 started while a/lib-1 runs: %+v", b.Status)
	}
}

func (e *env) waitPhaseIn(t *testing.T, ns, name, phase string) *v1alpha1.Build {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		obj, err := e.reg.Get(t.Context(), buildKind, ns, name, registry.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b := obj.(*v1alpha1.Build)
		if b.Status.Phase == phase {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("build %s/%s never reached %s (now %q)", ns, name, phase, b.Status.Phase)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestGroupPriorityOrdersANamespacesBuilds(t *testing.T) {
	t.Parallel()
	g := newGate()
	e, c := tenantEnv(t, &Controllers{Executor: g, Workers: 1}, nil)
	grp := e.create(t, "BuildGroup", "a", `{"metadata":{"name":"g"},"spec":{"components":["lib"]}}`).(*v1alpha1.BuildGroup)
	grp.Status.Members = []v1alpha1.GroupMember{{Component: "lib", Build: "lib-2", Priority: 1}, {Component: "lib", Build: "lib-3", Priority: 50}}
	if _, err := registry.WriteStatus(t.Context(), e.reg, grp); err != nil {
		t.Fatal(err)
	}
	e.builds(t, "a", 1, 1)
	if got := g.next(t); got != "a/lib-1" {
		t.Fatalf("first build %s, want a/lib-1", got)
	}
	for _, name := range []string{"lib-2", "lib-3"} {
		e.create(t, "Build", "a", `{"metadata":{"name":"`+name+`"},"spec":{"component":"lib","group":"g","reason":{"type":"manual"}}}`)
	}
	e.builds(t, "a", 4, 4)
	c.waitWaiting(t, 3)
	var order []string
	for range 3 {
		g.release <- struct{}{}
		order = append(order, g.next(t))
	}
	if got := strings.Join(order, " "); got != "a/lib-3 a/lib-2 a/lib-4" {
		t.Fatalf("order %s, want a/lib-3 a/lib-2 a/lib-4 (priority 50, 1, none)", got)
	}
	g.release <- struct{}{}
}
