// Package bench measures a real Kiln server the way its users load it: a
// separate `kiln up` process driven over HTTPS, with latency percentiles,
// throughput, memory and restart time. `kiln bench api` runs it.
package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kilnbuild/kiln/internal/client"
)

// serverProc is a `kiln up` child process.
type serverProc struct {
	cmd     *exec.Cmd
	dataDir string
	url     string
	token   string
	hc      *http.Client
	log     *os.File
}

// serverSpec says how to run `kiln up`.
type serverSpec struct {
	exe, dataDir, database string
	args                   []string // more flags
	env                    []string // more environment (NAME=value)
}

// startServer runs `exe up` on a free loopback port and waits until a
// list succeeds; it returns the time that took.
func startServer(ctx context.Context, spec serverSpec) (*serverProc, time.Duration, error) {
	port, err := freePort()
	if err != nil {
		return nil, 0, err
	}
	logf, err := os.OpenFile(filepath.Join(spec.dataDir, "server.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, 0, err
	}
	args := []string{"up", "--data-dir", spec.dataDir, "--listen", "127.0.0.1:" + strconv.Itoa(port), "--write-user-config=false", "--log-level", "warn"}
	if spec.database != "" {
		args = append(args, "--database", spec.database)
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, spec.exe, append(args, spec.args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if len(spec.env) > 0 {
		cmd.Env = append(os.Environ(), spec.env...)
	}
	if err := cmd.Start(); err != nil {
		return nil, 0, fmt.Errorf("starting %s up: %w", spec.exe, err)
	}
	p := &serverProc{cmd: cmd, dataDir: spec.dataDir, url: "https://127.0.0.1:" + strconv.Itoa(port), log: logf}
	if err := p.waitReady(ctx); err != nil {
		p.stop()
		return nil, 0, err
	}
	return p, time.Since(start), nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitReady polls until a list of components answers 200.
func (p *serverProc) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if p.hc == nil {
			p.loadCredentials()
		}
		if p.hc != nil {
			res, err := p.do(ctx, "GET", "/apis/kiln.dev/v1alpha1/components?limit=500", nil, "")
			if err == nil && res.StatusCode == 200 {
				res.Body.Close()
				return nil
			}
			if res != nil {
				res.Body.Close()
			}
		}
		if p.cmd.ProcessState != nil {
			return errors.New("server exited; see " + filepath.Join(p.dataDir, "server.log"))
		}
		time.Sleep(5 * time.Millisecond)
	}
	return errors.New("server not ready after 60s; see " + filepath.Join(p.dataDir, "server.log"))
}

func (p *serverProc) loadCredentials() {
	cfg, err := client.LoadConfig(filepath.Join(p.dataDir, "client.yaml"))
	if err != nil || cfg.Token == "" {
		return
	}
	tr, err := client.NewTransport(cfg)
	if err != nil {
		return
	}
	tr.MaxIdleConnsPerHost, tr.MaxConnsPerHost = 64, 0
	p.token = cfg.Token
	p.hc = &http.Client{Transport: tr}
}

func (p *serverProc) do(ctx context.Context, method, path string, body []byte, contentType string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, p.url+path, bytesReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	if contentType == "" {
		contentType = "application/json"
	}
	req.Header.Set("Content-Type", contentType)
	return p.hc.Do(req)
}

// stop sends SIGTERM and waits for a graceful exit.
func (p *serverProc) stop() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		_ = p.cmd.Wait()
	}
	p.log.Close()
}

// rssMiB reads the server's resident and peak memory from /proc.
func (p *serverProc) rssMiB() (rss, peak float64) {
	st := readProcStatus(p.cmd.Process.Pid)
	return st["VmRSS"] / 1024, st["VmHWM"] / 1024
}

// readProcStatus returns the numeric fields of /proc/PID/status (kB for
// memory); empty when the process is gone.
func readProcStatus(pid int) map[string]float64 {
	out := map[string]float64{}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		if v, err := strconv.ParseFloat(f[1], 64); err == nil {
			out[strings.TrimSuffix(f[0], ":")] = v
		}
	}
	return out
}

func gitOutput(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	return string(out), err
}
