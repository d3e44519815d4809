package server

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/oci"
	"github.com/kilnbuild/kiln/internal/remote"
	"github.com/kilnbuild/kiln/internal/sandbox"
	"github.com/kilnbuild/kiln/internal/worker"
)

// workerToken creates a worker token as the admin.
func workerToken(t *testing.T, a api, name string, platforms ...string) string {
	t.Helper()
	r := a.must(201, "POST", kiln+"/tokenrequests", map[string]any{"subject": "system:worker:" + name, "platforms": platforms})
	return str(r.Obj, "token")
}

// startWorker runs a real worker in this process until the test ends.
func startWorker(t *testing.T, f *Factory, token string, first int) {
	t.Helper()
	w, err := worker.New(worker.Config{Server: f.URL, Token: token, CAFile: filepath.Join(f.cfg.DataDir, "tls", "ca.crt"),
		WorkDir: t.TempDir(), SandboxHostIDs: sandbox.HostIDs{First: first, Count: 1000}, Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// A build runs on a remote worker end to end: the worker runs the steps in
// its sandbox and pushes; the server signs (cosign verifies with the
// server's key), and the provenance names the worker and marks what rests
// on its word.
func TestRemoteWorkerBuildsAndServerSigns(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	url, _ := gitRepo(t, map[string]string{"VERSION": "2.0\n"})
	f, a := buildFactory(t, Config{Executor: ExecutorRemote, WorkerLease: 3 * time.Second})
	startWorker(t, f, workerToken(t, a, "w1"), 1_900_000_000)
	a.must(201, "POST", nsPath("default", "components"), scriptComponent("hello", url, map[string]any{
		"params": []any{map[string]any{"name": "image", "value": "host"}, map[string]any{"name": "outputs", "value": `["out"]`},
			map[string]any{"name": "script", "value": "mkdir -p out; echo \"remote $(cat VERSION)\" > out/greeting.txt; echo step-output-line"}}}))
	b := waitBuild(t, a, "hello", 1)
	name := str(b, "metadata", "name")
	logs := a.must(200, "GET", nsPath("default", "builds")+"/"+name+"/log", nil).Body
	if str(b, "status", "phase") != "Succeeded" {
		t.Fatalf("build: %s\nlog:\n%s", str(b, "status", "message"), logs)
	}
	for _, want := range []string{"leased to worker w1 (generation 1)", "step-output-line", "signed with key"} {
		if !strings.Contains(string(logs), want) {
			t.Fatalf("log lacks %q:\n%s", want, logs)
		}
	}
	if str(b, "status", "lease", "holder") != "w1" || str(b, "status", "lease", "released") != "true" {
		t.Fatalf("status.lease: %v", b["status"].(map[string]any)["lease"])
	}
	ref := str(b, "status", "artifact", "repository") + "@" + str(b, "status", "artifact", "digest")
	if got := pullFile(t, f, ref, "out/greeting.txt"); got != "remote 2.0\n" {
		t.Fatalf("artifact content %q", got)
	}
	prov := a.must(200, "GET", nsPath("default", "builds")+"/"+name+"/provenance", nil).Body
	var st struct {
		Predicate struct {
			BuildDefinition struct {
				InternalParameters struct {
					Worker *struct {
						Name     string   `json:"name"`
						Reported []string `json:"reported"`
					} `json:"worker"`
				} `json:"internalParameters"`
			} `json:"buildDefinition"`
		} `json:"predicate"`
	}
	if err := json.Unmarshal(prov, &st); err != nil {
		t.Fatal(err)
	}
	if w := st.Predicate.BuildDefinition.InternalParameters.Worker; w == nil || w.Name != "w1" || len(w.Reported) == 0 {
		t.Fatalf("provenance does not name the worker and what it reported:\n%s", prov)
	}
	kiln := kilnCLI(t, f)
	if out, err := kiln("verify", ref); err != nil || !strings.Contains(out, "verified") {
		t.Fatalf("kiln verify %s: %v\n%s", ref, err, out)
	}
	pub, _ := kiln("keys", "public")
	if cos := serverCosign(t, f, pub); cos != nil {
		cos.mustPass("verify", ref)
		cos.mustPass("verify-attestation", ref, "--type", "slsaprovenance1")
	}
}

// fakeWorker speaks the worker protocol directly, to hold leases the way a
// compromised or partitioned worker would.
type fakeWorker struct {
	t        *testing.T
	a        api
	token    string
	platform string // default the server's
}

func (w fakeWorker) post(path string, body any) resp {
	w.t.Helper()
	return api{t: w.t, base: w.a.base, token: w.token, hc: w.a.hc}.do("POST", remote.PathPrefix+path, body)
}

func (w fakeWorker) lease() remote.Task {
	w.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		r := w.post("lease", remote.LeaseRequest{Platform: cmp.Or(w.platform, remote.ServerPlatform()), Capacity: 1})
		if r.Code == 200 {
			var task remote.Task
			if err := json.Unmarshal(r.Body, &task); err != nil {
				w.t.Fatal(err)
			}
			return task
		}
		if r.Code != 204 {
			w.t.Fatalf("lease: %d %s", r.Code, r.Body)
		}
	}
	w.t.Fatal("no build was leased")
	return remote.Task{}
}

// keep renews the task's lease in the background until the returned
// function is called.
func (w fakeWorker) keep(task remote.Task) func() {
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-done:
				return
			case <-time.After(200 * time.Millisecond):
			}
			body, _ := json.Marshal(remote.Renewal{Generation: task.Generation})
			req, _ := http.NewRequest("POST", w.a.base+remote.PathPrefix+buildOp(task, "renew"), bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+w.token)
			if res, err := w.a.hc.Do(req); err == nil {
				res.Body.Close()
			}
		}
	}()
	return func() { close(done); <-stopped }
}

// pollOnce asks for a build, giving up after d.
func (w fakeWorker) pollOnce(d time.Duration) (*remote.Task, error) {
	body, _ := json.Marshal(remote.LeaseRequest{Platform: cmp.Or(w.platform, remote.ServerPlatform()), Capacity: 1})
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", w.a.base+remote.PathPrefix+"lease", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+w.token)
	res, err := w.a.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var task remote.Task
	if res.StatusCode != 200 || json.NewDecoder(res.Body).Decode(&task) != nil {
		return nil, fmt.Errorf("lease: %s", res.Status)
	}
	return &task, nil
}

// eventuallyLog waits until the log of the component's first build holds want.
func eventuallyLog(t *testing.T, a api, component, want string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		list := a.must(200, "GET", nsPath("default", "builds")+"?fieldSelector=spec.component%3D"+component, nil).Obj
		if items, _ := list["items"].([]any); len(items) > 0 {
			name := str(items[0].(map[string]any), "metadata", "name")
			if r := a.do("GET", nsPath("default", "builds")+"/"+name+"/log", nil); strings.Contains(string(r.Body), want) {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the log of %s never showed %q", component, want)
}

func buildOp(task remote.Task, op string) string {
	return "builds/" + task.Namespace + "/" + task.Build + "/" + op
}

// A build token pushes only to its build's repository, is refused by the
// API, and dies with its lease; a lapsed lease is retried once (recorded on
// the build) and the old holder's reports and pushes are refused; a second
// loss fails the build. A worker token cannot lease another platform.
func TestWorkerLeaseFencingAndScopedPush(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	url, _ := gitRepo(t, map[string]string{"VERSION": "1\n"})
	f, a := buildFactory(t, Config{Executor: ExecutorRemote, WorkerLease: 2 * time.Second})
	w := fakeWorker{t: t, a: a, token: workerToken(t, a, "fake")}
	for _, req := range []map[string]any{
		{"subject": "system:build:default:hello"},                            // only Kiln issues build tokens
		{"subject": "system:worker:x", "platforms": []string{"linux"}},       // not os/arch
		{"subject": "admin", "platforms": []string{remote.ServerPlatform()}}, // platforms are for workers
	} {
		if r := a.do("POST", kiln+"/tokenrequests", req); r.Code != 400 {
			t.Fatalf("token request %v: %d %s", req, r.Code, r.Body)
		}
	}
	if r := w.post("lease", remote.LeaseRequest{Platform: "linux/s390x", Capacity: 1}); r.Code != 403 {
		t.Fatalf("a worker leased for a platform its token does not allow: %d %s", r.Code, r.Body)
	}
	if r := (api{t: t, base: a.base, token: w.token, hc: a.hc}).do("GET", nsPath("default", "components"), nil); r.Code != 403 {
		t.Fatalf("a worker token read the API: %d", r.Code)
	}
	a.must(201, "POST", nsPath("default", "components"), scriptComponent("hello", url, nil))
	a.must(201, "POST", nsPath("default", "components"), scriptComponent("other", url, nil))
	task := w.lease()
	stopRenewing := w.keep(task) // the scope checks below may take longer than the lease
	host := strings.TrimPrefix(f.URL, "https://")
	push := func(token, repo string) error {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "f"), "x")
		_, err := oci.PushDirectory(t.Context(), host+"/"+repo, dir, oci.PushOptions{Remote: oci.Remote{Token: token, RootCAs: f.caPool()}})
		return err
	}
	if err := push(task.PushToken, task.Repository); err != nil {
		t.Fatalf("the build token cannot push to its own repository %s: %v", task.Repository, err)
	}
	if err := push(task.PushToken, task.Repository+"/extra"); err != nil {
		t.Fatalf("the build token cannot push below its repository: %v", err)
	}
	foreign := map[string]string{"hello": "other", "other": "hello"}[task.Component]
	for _, repo := range []string{"default/" + foreign, "default/" + task.Component + "x", "team-b/" + task.Component} {
		if err := push(task.PushToken, repo); err == nil || !(strings.Contains(err.Error(), "DENIED") || strings.Contains(err.Error(), "403")) {
			t.Fatalf("the build token of %s pushed to %s: %v", task.Repository, repo, err)
		}
	}
	if r := (api{t: t, base: a.base, token: task.PushToken, hc: a.hc}).do("GET", nsPath("default", "components"), nil); r.Code != 403 {
		t.Fatalf("a build token read the API: %d", r.Code)
	}
	// The fake worker stops renewing: the lease lapses, the build is taken
	// back, recorded, and offered again.
	stopRenewing()
	b := waitCondition(t, a, task.Build, func(b map[string]any) bool { return hasCondition(b, "WorkerLost") })
	if !strings.Contains(conditionMessage(b, "WorkerLost"), "worker fake") {
		t.Fatalf("WorkerLost condition: %v", b["status"])
	}
	if err := push(task.PushToken, task.Repository); err == nil {
		t.Fatal("the push token of a lapsed lease still pushes")
	}
	if r := w.post(buildOp(task, "complete"), remote.Completion{Generation: task.Generation}); r.Code != 409 {
		t.Fatalf("a late report of a lapsed lease: %d %s", r.Code, r.Body)
	}
	if r := w.post(buildOp(task, "log")+"?generation="+strconv.FormatInt(task.Generation, 10)+"&offset=0", "late"); r.Code != 409 {
		t.Fatalf("a late log chunk of a lapsed lease: %d %s", r.Code, r.Body)
	}
	second := w.lease()
	if second.Build != task.Build || second.Generation != task.Generation+1 {
		t.Fatalf("the retry is %s generation %d, want %s generation %d", second.Build, second.Generation, task.Build, task.Generation+1)
	}
	if r := w.post(buildOp(task, "renew"), remote.Renewal{Generation: task.Generation}); r.Code != 409 {
		t.Fatalf("the old generation renewed over the new one: %d %s", r.Code, r.Body)
	}
	// Lost again: the build fails, not retried a third time.
	final := waitBuild(t, a, task.Component, 1)
	if str(final, "status", "phase") != "Failed" || !strings.Contains(str(final, "status", "message"), "not retried again") {
		t.Fatalf("after two lost leases: %s: %s", str(final, "status", "phase"), str(final, "status", "message"))
	}
}

func waitCondition(t *testing.T, a api, build string, cond func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		b := a.must(200, "GET", nsPath("default", "builds")+"/"+build, nil).Obj
		if cond(b) {
			return b
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("build %s: condition not reached", build)
	return nil
}

func conditions(b map[string]any) []map[string]any {
	st, _ := b["status"].(map[string]any)
	list, _ := st["conditions"].([]any)
	var out []map[string]any
	for _, c := range list {
		if m, ok := c.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func hasCondition(b map[string]any, typ string) bool { return conditionMessage(b, typ) != "" }

func conditionMessage(b map[string]any, typ string) string {
	for _, c := range conditions(b) {
		if c["type"] == typ {
			m, _ := c["message"].(string)
			return m
		}
	}
	return ""
}

// A build of another platform goes only to a worker of that platform, and
// a server that dispatches to no workers fails it, saying why.
func TestWorkerPlatforms(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	url, _ := gitRepo(t, map[string]string{"VERSION": "1\n"})
	_, a := buildFactory(t, Config{Executor: ExecutorRemote, WorkerLease: 5 * time.Second})
	native := fakeWorker{t: t, a: a, token: workerToken(t, a, "native")}
	arm := fakeWorker{t: t, a: a, token: workerToken(t, a, "arm", "linux/riscv64"), platform: "linux/riscv64"}
	_, _ = arm.pollOnce(100 * time.Millisecond) // the riscv64 worker shows up: its capacity admits the build
	a.must(201, "POST", nsPath("default", "components"), scriptComponent("hello", url, map[string]any{"platform": "linux/riscv64"}))
	eventuallyLog(t, a, "hello", "waiting for a remote worker (linux/riscv64)")
	// A queued build of the poller's platform is handed out at once; the
	// native worker's poll must find none.
	if task, err := native.pollOnce(time.Second); err == nil {
		t.Fatalf("a %s worker got a linux/riscv64 build: %+v", remote.ServerPlatform(), task)
	}
	if task := arm.lease(); task.Component != "hello" {
		t.Fatalf("the riscv64 worker got %+v", task)
	}

	_, local := buildFactory(t, Config{})
	local.must(201, "POST", nsPath("default", "components"), scriptComponent("hello", url, map[string]any{"platform": "linux/riscv64"}))
	b := waitBuild(t, local, "hello", 1)
	if str(b, "status", "phase") != "Failed" || !strings.Contains(str(b, "status", "message"), "dispatches to no remote workers") {
		t.Fatalf("a linux/riscv64 build on a local-only server: %s: %s", str(b, "status", "phase"), str(b, "status", "message"))
	}
}

// A worker whose token the server refuses (here: a platform the token does
// not allow) stops at once with the server's reason.
func TestWorkerRefusedStops(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	f, a := buildFactory(t, Config{Executor: ExecutorRemote})
	w, err := worker.New(worker.Config{Server: f.URL, Token: workerToken(t, a, "w", "linux/riscv64"),
		CAFile: filepath.Join(f.cfg.DataDir, "tls", "ca.crt"), WorkDir: t.TempDir(), Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := w.Run(ctx); err == nil || !strings.Contains(err.Error(), "may lease builds for linux/riscv64 only") {
		t.Fatalf("Run = %v, want the server's refusal", err)
	}
}
