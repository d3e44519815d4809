// Package worker is `kiln worker`: a process on another host that leases
// builds from a Kiln server, runs their steps in its own bubblewrap
// sandbox with the same executor code the server uses, streams the log
// back, pushes the outputs with the build's scoped push token and reports
// them. It never holds a signing key: the server signs. See
// internal/remote for the protocol and docs/workers.md.
package worker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/kilnbuild/kiln/internal/remote"
	"github.com/kilnbuild/kiln/internal/sandbox"
)

// Config configures a worker.
type Config struct {
	// Server is the Kiln server's URL (https://host:port).
	Server string
	// Token is the worker's token (kiln token create --worker NAME).
	Token string
	// TokenFile is where the token was read from, if anywhere: no step may
	// see it.
	TokenFile string
	// CAFile is a PEM file with the CA of the server's certificate (besides
	// the system roots).
	CAFile string
	// Capacity is how many builds run at once (default 1).
	Capacity int
	// Platform is the os/arch the worker builds for (default its own).
	Platform string
	// WorkDir holds build workspaces and unpacked step images.
	WorkDir string
	// SandboxHostIDs are the host ids steps run as when the worker runs as
	// root (zero: sandbox.DefaultHostIDs); give workers sharing a host
	// distinct ranges.
	SandboxHostIDs sandbox.HostIDs
	Log            *slog.Logger
}

// Worker is a running worker.
type Worker struct {
	cfg  Config
	c    *client
	host string // the server's host:port, where its registry is reached
	sb   *sandbox.Bubblewrap
}

// New checks cfg and prepares the sandbox.
func New(cfg Config) (*Worker, error) {
	u, err := url.Parse(cfg.Server)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("--server %q: want the server's https URL, e.g. https://kiln.example:7070", cfg.Server)
	}
	if cfg.Token == "" {
		return nil, errors.New("a worker token is required: create one with `kiln token create --worker NAME` and pass --token or KILN_WORKER_TOKEN")
	}
	cfg.Capacity = max(cfg.Capacity, 1)
	if cfg.Platform == "" {
		cfg.Platform = remote.ServerPlatform()
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	hc, err := httpClient(cfg.CAFile)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(cfg.WorkDir)
	if err != nil {
		return nil, err
	}
	cfg.WorkDir = abs
	if err := os.MkdirAll(cfg.WorkDir, 0o700); err != nil {
		return nil, fmt.Errorf("work directory: %w", err)
	}
	sb, err := sandbox.NewBubblewrap(sandbox.Options{HostIDs: cfg.SandboxHostIDs, Protected: protected(cfg)})
	if err != nil {
		return nil, fmt.Errorf("this worker cannot run build steps: %w", err)
	}
	return &Worker{cfg: cfg, c: &client{base: "https://" + u.Host, token: cfg.Token, hc: hc}, host: u.Host, sb: sb}, nil
}

// protected are the worker's files no step may see.
func protected(cfg Config) []string {
	var out []string
	for _, p := range []string{cfg.TokenFile, cfg.CAFile} {
		if abs, err := filepath.Abs(p); p != "" && err == nil {
			out = append(out, abs)
		}
	}
	return out
}

func httpClient(caFile string) (*http.Client, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca %s: no PEM certificate in it", caFile)
		}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}, nil
}

func (w *Worker) rootCAs() *x509.CertPool {
	return w.c.hc.Transport.(*http.Transport).TLSClientConfig.RootCAs
}

// Run leases and runs builds, Capacity at a time, until ctx ends; then it
// stops the builds it runs (their leases lapse and the server retries
// them) and returns.
// A token the server refuses (unknown, revoked, or not allowed this
// platform) ends Run with that error.
func (w *Worker) Run(ctx context.Context) error {
	defer w.sb.Close()
	w.cfg.Log.Info("worker started", "server", w.cfg.Server, "platform", w.cfg.Platform, "capacity", w.cfg.Capacity)
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	var wg sync.WaitGroup
	running := &counter{}
	for range w.cfg.Capacity {
		wg.Add(1)
		go func() { defer wg.Done(); w.slot(ctx, stop, running) }()
	}
	wg.Wait()
	if err := context.Cause(ctx); errors.Is(err, errRefused) {
		return err
	}
	return nil
}

// slot is one build at a time: poll, run, report.
func (w *Worker) slot(ctx context.Context, stop context.CancelCauseFunc, running *counter) {
	backoff := time.Second
	for ctx.Err() == nil {
		t, err := w.c.lease(ctx, remote.LeaseRequest{Platform: w.cfg.Platform, Capacity: w.cfg.Capacity, Running: running.get()})
		if errors.Is(err, errRefused) {
			stop(err)
			return
		}
		if err != nil {
			if ctx.Err() == nil {
				w.cfg.Log.Warn("asking the server for a build", "err", err, "retry in", backoff)
				sleep(ctx, backoff)
				backoff = min(2*backoff, 30*time.Second)
			}
			continue
		}
		backoff = time.Second
		if t != nil {
			running.add(1)
			w.run(ctx, t)
			running.add(-1)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) add(d int) { c.mu.Lock(); c.n += d; c.mu.Unlock() }
func (c *counter) get() int  { c.mu.Lock(); defer c.mu.Unlock(); return c.n }
