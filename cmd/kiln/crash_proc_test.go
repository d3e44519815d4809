package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/client"
)

// runMainEnv makes this test binary run kiln's main instead of the tests,
// so that the crash test can start, kill -9 and restart real `kiln up`
// processes without building the binary separately.
const runMainEnv = "KILN_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// kilnProc is a `kiln up` process that can be killed and restarted on the
// same data directory and port.
type kilnProc struct {
	t       *testing.T
	dataDir string
	port    int
	cmd     *exec.Cmd
	exited  chan struct{}
	log     *os.File
	hc      *http.Client
	token   string
	// extra are more flags of kiln up (e.g. a replica's).
	extra []string
}

// startKiln starts `kiln up` on dataDir with extra flags; its log is
// DATA_DIR.log.
func startKiln(t *testing.T, dataDir string, extra ...string) *kilnProc {
	t.Helper()
	port := stablePort(t)
	logf, err := os.OpenFile(dataDir+".log", os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	p := &kilnProc{t: t, dataDir: dataDir, port: port, log: logf, extra: extra}
	t.Cleanup(p.stop)
	p.start()
	return p
}

// stablePort picks a free port below the kernel's ephemeral range: the
// server is restarted on it after each kill, and a port from that range
// may meanwhile be taken by any outgoing connection on the machine.
func stablePort(t *testing.T) int {
	t.Helper()
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				low = n
			}
		}
	}
	for _, port := range rand.Perm(low - 10000) {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000))
		if err == nil {
			l.Close()
			return port + 10000
		}
	}
	t.Fatalf("no free port below %d", low)
	return 0
}

func (p *kilnProc) url() string { return "https://127.0.0.1:" + strconv.Itoa(p.port) }

// start runs the server and waits until its API answers.
func (p *kilnProc) start() {
	p.t.Helper()
	fmt.Fprintf(p.log, "==== start %s\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(os.Args[0], "up", "--data-dir", p.dataDir, "--listen", "127.0.0.1:"+strconv.Itoa(p.port),
		"--write-user-config=false", "--allow-file-sources", "--log-level", "info", "--batch-window", "500ms")
	cmd.Args = append(cmd.Args, p.extra...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("starting kiln up: %v", err)
	}
	p.cmd, p.exited = cmd, make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { _ = c.Wait(); close(done) }(cmd, p.exited)
	p.waitReady()
}

func (p *kilnProc) waitReady() {
	p.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			p.t.Fatalf("kiln up exited while starting:\n%s", p.logTail())
		default:
		}
		if p.hc == nil {
			p.loadCredentials()
		}
		if p.hc != nil {
			if _, err := p.get("/apis/kiln.dev/v1alpha1/namespaces/default/components"); err == nil {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.t.Fatalf("kiln up not ready after 60s:\n%s", p.logTail())
}

// logTail is the end of the server's log, for failure messages.
func (p *kilnProc) logTail() string {
	b, _ := os.ReadFile(p.log.Name())
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 60 {
		lines = lines[len(lines)-60:]
	}
	return strings.Join(lines, "\n")
}

func (p *kilnProc) loadCredentials() {
	cfg, err := client.LoadConfig(filepath.Join(p.dataDir, "client.yaml"))
	if err != nil || cfg.Token == "" {
		return
	}
	tr, err := client.NewTransport(cfg)
	if err != nil {
		return
	}
	p.token = cfg.Token
	p.hc = &http.Client{Timeout: 10 * time.Second, Transport: tr}
}

// kill9 kills the server with SIGKILL and waits until it is gone.
func (p *kilnProc) kill9() {
	p.t.Helper()
	fmt.Fprintf(p.log, "==== kill -9 %s\n", time.Now().Format(time.RFC3339Nano))
	if err := p.cmd.Process.Kill(); err != nil {
		p.t.Fatalf("kill -9: %v", err)
	}
	<-p.exited
}

func (p *kilnProc) stop() {
	if p.cmd != nil && p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.exited:
		case <-time.After(20 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
	_ = p.log.Close()
}

// kubectl-style client calls.

func (p *kilnProc) get(path string) ([]byte, error) { return p.do("GET", path, nil, "") }

func (p *kilnProc) do(method, path string, body []byte, contentType string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, p.url()+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := p.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode >= 300 {
		return raw, fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, raw)
	}
	return raw, nil
}

// patch merge-patches an object, retrying while the server restarts.
func (p *kilnProc) patch(path string, patch any) {
	p.t.Helper()
	body, _ := json.Marshal(patch)
	var err error
	for range 100 {
		if _, err = p.do("PATCH", path, body, "application/merge-patch+json"); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.t.Fatalf("patching %s: %v", path, err)
}

// kiln runs this binary as the kiln CLI against the server.
func (p *kilnProc) kiln(args ...string) (string, error) {
	cmd := exec.Command(os.Args[0], append([]string{"--config", filepath.Join(p.dataDir, "client.yaml")}, args...)...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kiln %v: %w\n%s", args, err, out)
	}
	return string(out), nil
}

func listItems[T any](p *kilnProc, path string) ([]T, error) {
	raw, err := p.get(path)
	if err != nil {
		return nil, err
	}
	var list struct {
		Items []T `json:"items"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", path, err)
	}
	return list.Items, nil
}

var errNotReady = errors.New("not ready")
