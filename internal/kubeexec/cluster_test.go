package kubeexec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kilnbuild/kiln/internal/k8stest"
	"github.com/kilnbuild/kiln/internal/oci"
	"github.com/kilnbuild/kiln/internal/oci/ocitest"
	"github.com/kilnbuild/kiln/internal/regtoken"
	"github.com/kilnbuild/kiln/internal/sandbox"
)

// shared is the package's test cluster, started by the first test that
// needs it and stopped by TestMain.
var shared struct {
	once    sync.Once
	cluster *k8stest.Cluster
	err     error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.cluster != nil {
		if err := shared.cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the test cluster:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func testCluster(t *testing.T) *k8stest.Cluster {
	t.Helper()
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		bins, err := k8stest.Binaries(ctx)
		if err != nil {
			shared.err = err
			return
		}
		began := time.Now()
		shared.cluster, shared.err = k8stest.Start(ctx, bins)
		if shared.err == nil {
			shared.err = shared.cluster.Namespace(ctx, "builds")
		}
		fmt.Fprintf(os.Stderr, "test cluster up in %v\n", time.Since(began).Round(10*time.Millisecond))
	})
	if errors.Is(shared.err, k8stest.ErrUnavailable) && !k8stest.Required() {
		t.Skip(shared.err)
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.cluster
}

// env is a cluster, a Kiln registry the node pulls from with scoped
// tokens, and a Runner.
type env struct {
	c      *k8stest.Cluster
	reg    *ocitest.Server
	runner *Runner
	image  string // a busybox step image of the registry, by digest
}

func newEnv(t *testing.T, tokens bool) *env {
	t.Helper()
	c := testCluster(t)
	reg, err := oci.NewRegistry(oci.Config{Dir: t.TempDir(), NoSync: true, Log: slog.New(slog.DiscardHandler),
		Authorizer: oci.AuthorizerFunc(func(_ context.Context, tok, _ string, _ oci.Action) error {
			if tok != "system" {
				return oci.ErrUnauthenticated
			}
			return nil
		})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	issuer, err := regtoken.NewIssuer(bytes.Repeat([]byte("s"), 32))
	if err != nil {
		t.Fatal(err)
	}
	srv := ocitest.Serve(t, issuer.Handler(reg, "system"))
	srv.Remote.Token = "system"
	if err := c.TrustRegistry(srv.Host, srv.CAFile); err != nil {
		t.Fatal(err)
	}
	helper, err := PushHelper(t.Context(), srv.Host+"/kiln/helper", srv.Remote)
	if err != nil {
		t.Fatal(err)
	}
	image, err := PushHelper(t.Context(), srv.Host+"/team/tools", srv.Remote)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Config: c.Config, Namespace: "builds", HelperImage: helper, Registry: srv.Host, NodeName: k8stest.NodeName}
	if tokens {
		opts.Tokens = issuer
	}
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return &env{c: c, reg: srv, runner: r, image: image}
}

// mounts are a task's: a writable workspace, a read-only input.
func mounts(t *testing.T) (ws, in string, ms []sandbox.Mount) {
	ws, in = t.TempDir(), t.TempDir()
	mustWrite(t, filepath.Join(in, "input.txt"), "from the server\n", 0o644)
	return ws, in, []sandbox.Mount{{Source: ws, Target: "/workspace", Writable: true}, {Source: in, Target: "/input"}}
}

func (e *env) step(ms []sandbox.Mount, script string) sandbox.Step {
	return sandbox.Step{Image: e.image, Command: []string{"/bin/sh", "-c", script}, WorkDir: "/workspace",
		Env: []string{"GREETING=hello"}, Mounts: ms, Limits: sandbox.Limits{WallTime: 2 * time.Minute}}
}

// TestTaskRunsAsOnePod: the steps of a task run in order in one Pod,
// share the workspace, see the read-only input, write as a non-root user
// with a read-only root; their logs come back per step; the workspace
// comes back; the Pod and its pull secret are gone afterwards.
func TestTaskRunsAsOnePod(t *testing.T) {
	e := newEnv(t, true)
	ws, in, ms := mounts(t)
	steps := []sandbox.Step{
		e.step(ms, `echo "$GREETING from step one as $(id -u)"; cat /input/input.txt > shared.txt; mkdir -p out/sub && echo built > out/sub/artifact; ln -s sub/artifact out/link`),
		e.step(ms, `echo "step two reads: $(cat shared.txt)"; touch /usr/x 2>/dev/null && echo root-writable; touch /input/x 2>/dev/null && echo input-writable; echo done`),
	}
	logs := []*bytes.Buffer{{}, {}}
	began := time.Now()
	res, err := e.runner.RunTask(t.Context(), steps, func(i int) io.Writer { return logs[i] })
	t.Logf("a two-step task pod ran in %v", time.Since(began).Round(10*time.Millisecond))
	if err != nil {
		t.Fatalf("%v\nlogs: %q %q", err, logs[0], logs[1])
	}
	if len(res) != 2 || failed(res[0]) || failed(res[1]) {
		t.Fatalf("results %+v", res)
	}
	if got := logs[0].String(); got != "hello from step one as 1000\n" {
		t.Errorf("step one's log %q", got)
	}
	if got := logs[1].String(); got != "step two reads: from the server\ndone\n" {
		t.Errorf("step two's log %q", got)
	}
	if b, err := os.ReadFile(filepath.Join(ws, "out/sub/artifact")); err != nil || string(b) != "built\n" {
		t.Errorf("artifact %q %v", b, err)
	}
	if l, _ := os.Readlink(filepath.Join(ws, "out/link")); l != "sub/artifact" {
		t.Errorf("link %q", l)
	}
	if ents, _ := os.ReadDir(in); len(ents) != 1 {
		t.Errorf("the read-only input changed: %v", ents)
	}
	e.checkGone(t)
}

// checkGone: no Pod and no secret of the executor is left.
func (e *env) checkGone(t *testing.T) {
	t.Helper()
	sel := metav1.ListOptions{LabelSelector: LabelManaged}
	pods, err := e.c.Client.CoreV1().Pods("builds").List(t.Context(), sel)
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := e.c.Client.CoreV1().Secrets("builds").List(t.Context(), sel)
	if err != nil {
		t.Fatal(err)
	}
	if len(secrets.Items) > 0 {
		t.Errorf("secrets left: %d", len(secrets.Items))
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			t.Errorf("pod %s left", p.Name)
		}
	}
}

// TestStepsHaveNoNetworkButPrefetchDoes: a listener on the host's address
// on the pod network; a task step cannot connect to it (its Pod's
// interfaces are down, whatever the CNI or NetworkPolicy enforcement),
// a network (prefetch) step can.
func TestStepsHaveNoNetworkButPrefetchDoes(t *testing.T) {
	e := newEnv(t, true)
	l, err := net.Listen("tcp", k8stest.HostIP+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan struct{}, 10)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
			accepted <- struct{}{}
		}
	}()
	addr := l.Addr().(*net.TCPAddr)
	probe := fmt.Sprintf(`if nc -w 3 %s %d </dev/null; then echo connected; else echo refused; fi; ip route`, addr.IP, addr.Port)
	_, _, ms := mounts(t)
	var out bytes.Buffer
	res, err := e.runner.RunTask(t.Context(), []sandbox.Step{e.step(ms, probe)}, func(int) io.Writer { return &out })
	if err != nil || len(res) != 1 {
		t.Fatalf("%v %+v", err, res)
	}
	if !strings.Contains(out.String(), "refused") || strings.Contains(out.String(), "connected") || len(accepted) != 0 {
		t.Errorf("a task step reached the host: %q", out.String())
	}
	pre := e.step(ms, probe)
	pre.Network = true
	out.Reset()
	pre.Stdout = &out
	if _, err := e.runner.Run(t.Context(), pre); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "connected") {
		t.Errorf("a prefetch step could not reach the host: %q", out.String())
	}
	select {
	case <-accepted:
	case <-time.After(10 * time.Second):
		t.Error("the listener saw no connection from the prefetch step")
	}
}

// TestStepEnds: a failing step stops the task (the next does not run); a
// step over its memory limit is killed, one over its wall time stopped;
// without a pull token the node cannot pull the step's image.
func TestStepEnds(t *testing.T) {
	e := newEnv(t, true)
	_, _, ms := mounts(t)
	var out bytes.Buffer
	w := func(int) io.Writer { return &out }
	res, err := e.runner.RunTask(t.Context(), []sandbox.Step{e.step(ms, "exit 3"), e.step(ms, "echo never")}, w)
	if err != nil || len(res) != 1 || res[0].ExitCode != 3 {
		t.Errorf("failing step: %v %+v", err, res)
	}
	oom := e.step(ms, "dd if=/dev/zero of=/dev/null bs=256M count=1")
	oom.Limits.Memory = 32 << 20
	if res, err = e.runner.RunTask(t.Context(), []sandbox.Step{oom}, w); err != nil || len(res) != 1 || res[0].Reason != "memory-limit" {
		t.Errorf("memory hog: %v %+v", err, res)
	}
	slow := e.step(ms, "sleep 60")
	slow.Limits.WallTime = 3 * time.Second
	if res, err = e.runner.RunTask(t.Context(), []sandbox.Step{slow}, w); err != nil || len(res) != 1 || res[0].Reason != "timeout" {
		t.Errorf("slow step: %v %+v", err, res)
	}
	e.checkGone(t)
	anon := newEnv(t, false)
	_, err = anon.runner.RunTask(t.Context(), []sandbox.Step{anon.step(ms, "true")}, w)
	if err == nil || !strings.Contains(err.Error(), "cannot start") {
		t.Errorf("without a pull token: %v", err)
	}
}
