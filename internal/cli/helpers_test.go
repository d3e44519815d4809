package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/apiserver/apitest"
	"github.com/kilnbuild/kiln/internal/client"
	"github.com/kilnbuild/kiln/internal/client/clienttest"
	"github.com/kilnbuild/kiln/internal/golden"
)

// created is the fake server's creation time; tests run 90 minutes later.
var created = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// testOptions are the root command options of every test: a fixed clock,
// a short poll interval.
func testOptions(more ...Option) []Option {
	return append([]Option{
		WithClock(func() time.Time { return created.Add(90 * time.Minute) }),
		WithPollInterval(5 * time.Millisecond),
	}, more...)
}

// result is what one kiln invocation printed.
type result struct {
	out, err string
	code     error
}

// isolate keeps config lookup away from the developer's files.
func isolate(t *testing.T) string {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "xdg"))
	t.Setenv(client.EnvConfig, "")
	return dir
}

// endpoint is a server the CLI talks to: the real API (newServer), or the
// fake (clienttest.New) whose fixed clock and ids keep rendered output
// byte for byte the same.
type endpoint interface{ ClientConfig() *client.Config }

// apiServer is the real API in-process, its requests logged.
type apiServer struct {
	*apitest.Env
	*clienttest.RequestLog
}

// newServer starts the real API with the given tenant namespaces.
func newServer(t *testing.T, namespaces ...string) apiServer {
	t.Helper()
	log := &clienttest.RequestLog{}
	env := apitest.Start(t, apitest.WithMiddleware(log.Record))
	env.Namespaces(t, namespaces...)
	return apiServer{Env: env, RequestLog: log}
}

// kiln runs the CLI against srv with the given args and stdin.
func kiln(t *testing.T, srv endpoint, stdin string, args ...string) result {
	t.Helper()
	return kilnCtx(context.Background(), t, srv, stdin, nil, args...)
}

func kilnCtx(ctx context.Context, t *testing.T, srv endpoint, stdin string, out io.Writer, args ...string) result {
	t.Helper()
	root := NewRootCommand(testOptions()...)
	if srv != nil {
		cfg := srv.ClientConfig()
		args = append([]string{"--server", cfg.Server, "--token", cfg.Token}, args...)
	}
	root.SetArgs(args)
	var stdout, stderr bytes.Buffer
	if out == nil {
		out = &stdout
	}
	root.SetOut(out)
	root.SetErr(&stderr)
	root.SetIn(strings.NewReader(stdin))
	err := root.ExecuteContext(ctx)
	return result{out: stdout.String(), err: stderr.String(), code: err}
}

func (r result) must(t *testing.T) result {
	t.Helper()
	if r.code != nil {
		t.Fatalf("kiln failed: %v\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.err)
	}
	return r
}

// checkGolden compares got with testdata/name.golden (rewritten with -update).
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden.CheckString(t, filepath.Join(testdataDir, name+".golden"), got)
}

// testdataDir is absolute because tests chdir into temp dirs.
var testdataDir = func() string {
	d, _ := filepath.Abs("testdata")
	return d
}()

func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func obj(apiVersion, kind, ns, name string, fields map[string]any) client.Object {
	meta := map[string]any{"name": name}
	if ns != "" {
		meta["namespace"] = ns
	}
	o := client.Object{"apiVersion": apiVersion, "kind": kind, "metadata": meta}
	for k, v := range fields {
		o[k] = v
	}
	return o
}

func application(ns, name string) client.Object {
	return obj("kiln.dev/v1alpha1", "Application", ns, name, nil)
}

func comp(ns, name, app string) client.Object {
	return obj("kiln.dev/v1alpha1", "Component", ns, name, map[string]any{
		"spec": map[string]any{"application": app, "source": map[string]any{"git": map[string]any{"url": "https://git.example/" + name}}}})
}

// waitFor polls cond for up to 5s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// putStatus writes obj's status through the status subresource.
func putStatus(t *testing.T, srv endpoint, o client.Object) {
	t.Helper()
	c := client.New(srv.ClientConfig())
	ctx := context.Background()
	res, err := c.ResourceFor(ctx, o.APIVersion(), o.Kind())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateStatus(ctx, res, o.Namespace(), o); err != nil {
		t.Fatal(err)
	}
}
