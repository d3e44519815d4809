package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestWorkersInNetworkNamespaces runs a real `kiln up --executor remote`
// and two real `kiln worker` processes, each in its own network namespace
// joined to the host by a veth pair (10.200.X.0/30 and 10.200.X.4/30; the
// server listens on the host side). A build runs on a worker end to end
// with its log streamed while it runs and the server's signature verified;
// a worker killed with SIGKILL mid-build loses its lease and the build is
// retried once on the other worker, recorded on the build; a worker cut
// off by taking its veth down loses its lease the same way, stops, and its
// late report is refused once it is back.
func TestWorkersInNetworkNamespaces(t *testing.T) {
	requireNetns(t)
	net := newTestNet(t)
	dir := t.TempDir()
	srv := startRemoteKiln(t, filepath.Join(dir, "data"), net.hostIPs())
	a := net.worker(t, srv, "a", 0, dir)
	b := net.worker(t, srv, "b", 1, dir)
	repo := fixedRepo(t, filepath.Join(dir, "repo"), map[string]string{"VERSION": "1.0\n"})
	workers := map[string]*workerProc{"a": a, "b": b}
	apply := func(t *testing.T, component, pause string) {
		t.Helper()
		manifest := filepath.Join(dir, component+".yaml")
		if err := os.WriteFile(manifest, []byte(workerManifest(repo, component, pause)), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := srv.kiln("apply", "-f", manifest); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}

	t.Run("end to end", func(t *testing.T) {
		apply(t, "quick", "3")
		build := waitLeased(t, srv, "quick")
		waitLog(t, srv, build.name, "quick-started", "Running") // streamed while the build runs
		// kiln logs -f through the server follows the remote build to its end.
		if out, err := srv.kiln("logs", build.name, "-f"); err != nil || !strings.Contains(out, "quick-done") || !strings.Contains(out, "==> Succeeded") {
			t.Fatalf("kiln logs -f %s: %v\n%s", build.name, err, out)
		}
		done := waitFinished(t, srv, "quick")
		if done.Status.Phase != "Succeeded" {
			t.Fatalf("build %s: %s\n%s", done.name, done.Status.Message, srv.buildLog(done.name))
		}
		ref := done.Status.Artifact.Repository + "@" + done.Status.Artifact.Digest
		if out, err := srv.kiln("verify", ref); err != nil || !strings.Contains(out, "verified") {
			t.Fatalf("kiln verify %s: %v\n%s", ref, err, out)
		}
		if out, err := srv.kiln("logs", done.name); err != nil || !strings.Contains(out, "leased to worker") || !strings.Contains(out, "quick-done") {
			t.Fatalf("kiln logs %s: %v\n%s", done.name, err, out)
		}
	})

	t.Run("worker killed mid-build", func(t *testing.T) {
		apply(t, "killed", "6")
		build := waitLeased(t, srv, "killed")
		waitLog(t, srv, build.name, "killed-started", "Running")
		victim := workers[build.Status.Lease.Holder]
		victim.kill9(t)
		done := waitFinished(t, srv, "killed")
		checkRetried(t, srv, done, victim.name)
		victim.start(t) // back for the next case
	})

	t.Run("worker partitioned", func(t *testing.T) {
		apply(t, "partitioned", "6")
		build := waitLeased(t, srv, "partitioned")
		waitLog(t, srv, build.name, "partitioned-started", "Running")
		cut := workers[build.Status.Lease.Holder]
		net.ip(t, "link", "set", cut.hostVeth, "down")
		done := waitFinished(t, srv, "partitioned")
		checkRetried(t, srv, done, cut.name)
		net.ip(t, "link", "set", cut.hostVeth, "up")
		cut.waitLog(t, "the server refused the report: the lease was taken back")
		if toks := buildTokens(t, srv); len(toks) != 0 {
			t.Fatalf("build push tokens outlive their leases: %v", toks)
		}
	})
}

func requireNetns(t *testing.T) {
	t.Helper()
	requireCrashTools(t)
	_, err := exec.LookPath("ip")
	if os.Geteuid() != 0 || err != nil {
		if os.Getenv("CI") != "" || os.Getenv("KILN_REQUIRE_NETNS") != "" {
			t.Fatalf("network namespace tests need root and iproute2 (ip): euid %d, %v", os.Geteuid(), err)
		}
		t.Skip("network namespace tests need root and iproute2")
	}
}

// testNet is the test's network: one namespace per worker, each joined
// to the host by a veth pair.
type testNet struct {
	subnet int // X in 10.200.X.0/24
}

func newTestNet(t *testing.T) *testNet {
	t.Helper()
	used, _ := exec.Command("ip", "-4", "addr").Output()
	for i := range 200 {
		x := 20 + (os.Getpid()+i)%200
		if !strings.Contains(string(used), fmt.Sprintf(" 10.200.%d.", x)) && !nsExists(fmt.Sprintf("kilnw%d-a", x)) {
			return &testNet{subnet: x}
		}
	}
	t.Fatal("no free 10.200.X.0/24 subnet for the test's network")
	return nil
}

func nsExists(name string) bool {
	_, err := os.Stat("/run/netns/" + name)
	return err == nil
}

func (n *testNet) ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// hostIP and workerIP are the addresses of worker i's veth pair.
func (n *testNet) hostIP(i int) string   { return fmt.Sprintf("10.200.%d.%d", n.subnet, 4*i+1) }
func (n *testNet) workerIP(i int) string { return fmt.Sprintf("10.200.%d.%d", n.subnet, 4*i+2) }
func (n *testNet) hostIPs() []string     { return []string{n.hostIP(0), n.hostIP(1)} }

// link makes worker i's namespace and veth pair; cleanup removes them.
func (n *testNet) link(t *testing.T, name string, i int) (ns, hostVeth string) {
	t.Helper()
	ns, hostVeth = fmt.Sprintf("kilnw%d-%s", n.subnet, name), fmt.Sprintf("kw%d%s", n.subnet, name)
	peer := hostVeth + "-p"
	n.ip(t, "netns", "add", ns)
	t.Cleanup(func() {
		_ = exec.Command("ip", "netns", "del", ns).Run()
		_ = exec.Command("ip", "link", "del", hostVeth).Run()
	})
	n.ip(t, "link", "add", hostVeth, "type", "veth", "peer", "name", peer)
	n.ip(t, "link", "set", peer, "netns", ns)
	n.ip(t, "addr", "add", n.hostIP(i)+"/30", "dev", hostVeth)
	n.ip(t, "link", "set", hostVeth, "up")
	n.ip(t, "-n", ns, "addr", "add", n.workerIP(i)+"/30", "dev", peer)
	n.ip(t, "-n", ns, "link", "set", peer, "up")
	n.ip(t, "-n", ns, "link", "set", "lo", "up")
	return ns, hostVeth
}

// workerProc is a `kiln worker` process in its own network namespace.
type workerProc struct {
	name, ns, hostVeth, server, tokenFile, ca, workDir, hostIDs, logPath string
	cmd                                                                  *exec.Cmd
	exited                                                               chan struct{}
}

func (n *testNet) worker(t *testing.T, srv *kilnProc, name string, i int, dir string) *workerProc {
	t.Helper()
	ns, veth := n.link(t, name, i)
	out, err := srv.kiln("token", "create", "--worker", name)
	if err != nil {
		t.Fatal(err)
	}
	w := &workerProc{name: name, ns: ns, hostVeth: veth, server: "https://" + n.hostIP(i) + ":" + strconv.Itoa(srv.port),
		tokenFile: filepath.Join(dir, "worker-"+name+".token"), ca: filepath.Join(srv.dataDir, "tls", "ca.crt"),
		workDir: filepath.Join(dir, "worker-"+name), hostIDs: fmt.Sprintf("%d:1000", 1_800_000_000+i*10_000),
		logPath: filepath.Join(dir, "worker-"+name+".log")}
	if err := os.WriteFile(w.tokenFile, []byte(tokenLine(out)), 0o600); err != nil {
		t.Fatal(err)
	}
	w.start(t)
	t.Cleanup(func() { w.stop() })
	return w
}

// tokenLine picks the token out of `kiln token create` output.
func tokenLine(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "kiln_") {
			return l
		}
	}
	return ""
}

func (w *workerProc) start(t *testing.T) {
	t.Helper()
	logf, err := os.OpenFile(w.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command("ip", "netns", "exec", w.ns, os.Args[0], "worker", "--server", w.server,
		"--token-file", w.tokenFile, "--ca", w.ca, "--work-dir", w.workDir, "--sandbox-host-ids", w.hostIDs)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting worker %s: %v", w.name, err)
	}
	w.cmd, w.exited = cmd, make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { _ = c.Wait(); close(done) }(cmd, w.exited)
}

func (w *workerProc) kill9(t *testing.T) {
	t.Helper()
	if err := w.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill -9 worker %s: %v", w.name, err)
	}
	<-w.exited
}

func (w *workerProc) stop() {
	if w.cmd == nil {
		return
	}
	select {
	case <-w.exited:
		return
	default:
	}
	_ = w.cmd.Process.Signal(os.Interrupt)
	select {
	case <-w.exited:
	case <-time.After(10 * time.Second):
		_ = w.cmd.Process.Kill()
		<-w.exited
	}
}

func (w *workerProc) waitLog(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if b, _ := os.ReadFile(w.logPath); strings.Contains(string(b), want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b, err := os.ReadFile(w.logPath)
	t.Fatalf("worker %s never logged %q (%s, %v):\n%s", w.name, want, w.logPath, err, b)
}

// startRemoteKiln starts `kiln up --executor remote` listening on every
// address (the workers reach it at the host side of their veth pairs).
func startRemoteKiln(t *testing.T, dataDir string, sans []string) *kilnProc {
	t.Helper()
	logf, err := os.OpenFile(filepath.Join(filepath.Dir(dataDir), "server.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	p := &kilnProc{t: t, dataDir: dataDir, port: stablePort(t), log: logf}
	t.Cleanup(p.stop)
	cmd := exec.Command(os.Args[0], "up", "--data-dir", dataDir, "--listen", "0.0.0.0:"+strconv.Itoa(p.port),
		"--write-user-config=false", "--allow-file-sources", "--batch-window", "-1s", "--executor", "remote",
		"--worker-lease", "3s", "--tls-san", strings.Join(sans, ","))
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting kiln up: %v", err)
	}
	p.cmd, p.exited = cmd, make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { _ = c.Wait(); close(done) }(cmd, p.exited)
	p.waitReady()
	return p
}

// workerManifest is the application and one component whose script
// pauses for pause seconds between two log lines.
func workerManifest(repo, name, pause string) string {
	var b strings.Builder
	b.WriteString("apiVersion: kiln.dev/v1alpha1\nkind: Application\nmetadata: {name: app, namespace: default}\n")
	{
		script := fmt.Sprintf("echo %[1]s-started; sleep %[2]s; mkdir -p out; echo %[1]s $(cat VERSION) > out/result.txt; echo %[1]s-done", name, pause)
		fmt.Fprintf(&b, `---
apiVersion: kiln.dev/v1alpha1
kind: Component
metadata: {name: %s, namespace: default}
spec:
  application: app
  source: {git: {url: %q}}
  build:
    pipelineRef: script
    pollInterval: 0s
    params:
      - {name: image, value: host}
      - {name: outputs, value: '["out"]'}
      - {name: script, value: %q}
`, name, repo, script)
	}
	return b.String()
}

// remoteBuild is the part of a Build the test reads.
type remoteBuild struct {
	name     string
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Status struct {
		Phase    string `json:"phase"`
		Message  string `json:"message"`
		Attempts int    `json:"attempts"`
		Artifact struct {
			Repository string `json:"repository"`
			Digest     string `json:"digest"`
		} `json:"artifact"`
		Lease *struct {
			Holder     string `json:"holder"`
			Generation int64  `json:"generation"`
			Released   bool   `json:"released"`
		} `json:"lease"`
		Conditions []struct {
			Type, Reason, Message string
		} `json:"conditions"`
	} `json:"status"`
}

func componentBuild(t *testing.T, p *kilnProc, component string) (*remoteBuild, bool) {
	t.Helper()
	items, err := listItems[remoteBuild](p, "/apis/kiln.dev/v1alpha1/namespaces/default/builds?fieldSelector=spec.component%3D"+component)
	if err != nil || len(items) == 0 {
		return nil, false
	}
	b := items[0]
	b.name = b.Metadata.Name
	return &b, true
}

func waitBuildWhere(t *testing.T, p *kilnProc, component, what string, cond func(*remoteBuild) bool) *remoteBuild {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		if b, ok := componentBuild(t, p, component); ok && cond(b) {
			return b
		}
		time.Sleep(100 * time.Millisecond)
	}
	b, _ := componentBuild(t, p, component)
	t.Fatalf("build of %s: %s not reached: %+v\nserver log:\n%s", component, what, b, p.logTail())
	return nil
}

func waitLeased(t *testing.T, p *kilnProc, component string) *remoteBuild {
	t.Helper()
	return waitBuildWhere(t, p, component, "leased", func(b *remoteBuild) bool {
		return b.Status.Phase == "Running" && b.Status.Lease != nil && !b.Status.Lease.Released
	})
}

func waitFinished(t *testing.T, p *kilnProc, component string) *remoteBuild {
	t.Helper()
	return waitBuildWhere(t, p, component, "finished", func(b *remoteBuild) bool {
		return b.Status.Phase == "Succeeded" || b.Status.Phase == "Failed" || b.Status.Phase == "Cancelled"
	})
}

func (p *kilnProc) buildLog(name string) string {
	out, _ := p.get("/apis/kiln.dev/v1alpha1/namespaces/default/builds/" + name + "/log")
	return string(out)
}

// waitLog waits until the build's log holds want while the build is in
// phase: the log reaches the server as the worker writes it.
func waitLog(t *testing.T, p *kilnProc, name, want, phase string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(p.buildLog(name), want) {
			b, _ := p.get("/apis/kiln.dev/v1alpha1/namespaces/default/builds/" + name)
			var rb remoteBuild
			_ = json.Unmarshal(b, &rb)
			if rb.Status.Phase != phase {
				t.Fatalf("log line %q arrived only once the build was %s, not while %s", want, rb.Status.Phase, phase)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("build %s: log never showed %q:\n%s", name, want, p.buildLog(name))
}

// checkRetried asserts that the build succeeded on the other worker after
// lost's lease lapsed, once, and that the build records it.
func checkRetried(t *testing.T, p *kilnProc, b *remoteBuild, lost string) {
	t.Helper()
	if b.Status.Phase != "Succeeded" {
		t.Fatalf("build %s after losing worker %s: %s: %s\n%s", b.name, lost, b.Status.Phase, b.Status.Message, p.buildLog(b.name))
	}
	if l := b.Status.Lease; l == nil || l.Holder == lost || l.Generation != 2 {
		t.Fatalf("build %s: lease %+v, want generation 2 held by the other worker", b.name, l)
	}
	var cond string
	for _, c := range b.Status.Conditions {
		if c.Type == "WorkerLost" {
			cond = c.Reason + ": " + c.Message
		}
	}
	if !strings.Contains(cond, "worker "+lost) || !strings.Contains(cond, "retried once") {
		t.Fatalf("build %s: WorkerLost condition %q, want one naming worker %s and the retry", b.name, cond, lost)
	}
	if n := strings.Count(p.buildLog(b.name), "leased to worker"); n != 2 {
		t.Fatalf("build %s was leased %d times, want 2:\n%s", b.name, n, p.buildLog(b.name))
	}
}

// buildTokens lists the build push tokens that still exist.
func buildTokens(t *testing.T, p *kilnProc) []string {
	t.Helper()
	type token struct {
		Metadata struct{ Name string }    `json:"metadata"`
		Spec     struct{ Subject string } `json:"spec"`
	}
	items, err := listItems[token](p, "/apis/kiln.dev/v1alpha1/tokens")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tk := range items {
		if strings.HasPrefix(tk.Spec.Subject, "system:build:") {
			out = append(out, tk.Metadata.Name+" "+tk.Spec.Subject)
		}
	}
	return out
}
