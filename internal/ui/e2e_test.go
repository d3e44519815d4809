package ui_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/server"
)

// The end-to-end test of the web UI: a real factory builds the demo while
// headless Chromium, driven by web/e2e/ui.mjs (playwright-core), signs in,
// watches the build group finish live, reads a running build's log,
// follows a "why" chain, opens a failed policy verdict, traces a released
// artifact up to its commits and a library's commit down to the release
// (cut where it reaches a namespace alice cannot read), and signs out;
// bob, of another tenant, traces one of demo's artifacts and gets only
// the cut.
// Every response the browser receives passes through a recording proxy and
// must hold nothing of another tenant's namespace.

const chromium = "/usr/bin/chromium"

// uiRequired: in CI (or with KILN_REQUIRE_UI) a missing browser fails.
func uiRequired() bool { return os.Getenv("CI") != "" || os.Getenv("KILN_REQUIRE_UI") != "" }

func needTools(t *testing.T, webDir string) {
	t.Helper()
	var missing []string
	if _, err := os.Stat(chromium); err != nil {
		missing = append(missing, chromium+" (apt-get install chromium)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		missing = append(missing, "node")
	}
	if _, err := os.Stat(filepath.Join(webDir, "node_modules", "playwright-core")); err != nil {
		missing = append(missing, "web/node_modules (npm ci in web/, or scripts/test-deps.sh)")
	}
	if _, err := exec.LookPath("bwrap"); err != nil {
		missing = append(missing, "bwrap")
	}
	if len(missing) == 0 {
		return
	}
	if uiRequired() {
		t.Fatalf("the browser test needs %s", strings.Join(missing, ", "))
	}
	t.Skipf("the browser test needs %s", strings.Join(missing, ", "))
}

func TestUIEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a factory and a browser")
	}
	webDir, _ := filepath.Abs(filepath.Join("..", "..", "web"))
	needTools(t, webDir)
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	var logBuf syncBuffer
	dataDir := t.TempDir()
	f, err := server.Start(ctx, server.Config{DataDir: dataDir, Listen: "127.0.0.1:0", AllowFileSources: true,
		RegistryNoSync: true, Log: slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatalf("starting factory: %v", err)
	}
	t.Cleanup(func() { _ = f.Stop() })
	env := setUp(t, ctx, f, dataDir)
	rec := &recorder{}
	proxy := recordingProxy(t, f, rec)
	out := outputDir(t)
	code := loginCode(t, f, env.aliceToken)
	steps := map[string]func(){
		"apply-demo":        func() { env.apply(t, ctx, env.demoManifest) },
		"change-lib":        func() { env.changeLibrary(t, ctx) },
		"import-unverified": func() { env.importUnverified(t, f) },
	}
	runScript(t, ctx, webDir, map[string]string{
		"KILN_URL": proxy.URL, "KILN_LOGIN_CODE": code, "KILN_TOKEN": env.aliceToken, "KILN_NS": "demo",
		"KILN_DIRECT_URL": f.URL, "KILN_BOB_TOKEN": env.bobToken,
		"KILN_FORBIDDEN": strings.Join(env.forbidden(t, f), "\n"), "KILN_OUT": out, "KILN_CHROMIUM": chromium,
	}, steps)
	rec.assertClean(t, env.forbidden(t, f), []string{env.aliceToken, code}, "tenant-b")
	for _, secret := range []string{env.aliceToken, env.bobToken, code, f.AdminToken} {
		if strings.Contains(logBuf.String(), secret) {
			t.Errorf("the server log contains a token or login code")
		}
	}
	t.Logf("screenshots in %s", out)
}

// outputDir is $KILN_TEST_OUTPUT/ui if set (kept), else a temp dir.
func outputDir(t *testing.T) string {
	dir := t.TempDir()
	if base := os.Getenv("KILN_TEST_OUTPUT"); base != "" {
		dir = filepath.Join(base, "ui")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func loginCode(t *testing.T, f *server.Factory, token string) string {
	req, _ := http.NewRequest("POST", f.URL+"/ui/logincode", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := f.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct{ Code string }
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || body.Code == "" {
		t.Fatalf("login code: %d %v", res.StatusCode, err)
	}
	return body.Code
}

// runScript runs the browser script; a line "STEP name" on its stdout runs
// steps[name] and answers "DONE name" on its stdin.
func runScript(t *testing.T, ctx context.Context, webDir string, env map[string]string, steps map[string]func()) {
	runScriptFile(t, ctx, webDir, "ui.mjs", env, steps)
}

func runScriptFile(t *testing.T, ctx context.Context, webDir, script string, env map[string]string, steps map[string]func()) {
	cmd := exec.CommandContext(ctx, "node", filepath.Join(webDir, "e2e", script))
	cmd.Dir = webDir
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting node: %v", err)
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		t.Log("browser: " + line)
		if name, ok := strings.CutPrefix(line, "STEP "); ok {
			step, known := steps[name]
			if !known {
				t.Errorf("the script asked for unknown step %q", name)
			} else {
				step()
			}
			fmt.Fprintf(stdin, "DONE %s\n", name)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("browser script failed: %v\n%s", err, stderr.String())
	}
}

// recorder keeps every response body (streams included) the browser got.
type recorder struct {
	mu     sync.Mutex
	bodies []recorded
}

type recorded struct {
	url  string
	code int
	body bytes.Buffer
}

type teeBody struct {
	io.ReadCloser
	r   *recorder
	idx int
}

func (b *teeBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.r.mu.Lock()
	b.r.bodies[b.idx].body.Write(p[:n])
	b.r.mu.Unlock()
	return n, err
}

func (r *recorder) wrap(res *http.Response) error {
	r.mu.Lock()
	r.bodies = append(r.bodies, recorded{url: res.Request.URL.String(), code: res.StatusCode})
	idx := len(r.bodies) - 1
	r.mu.Unlock()
	res.Body = &teeBody{ReadCloser: res.Body, r: r, idx: idx}
	return nil
}

// assertClean fails if any response held something it must not.
func (r *recorder) assertClean(t *testing.T, forbidden, secrets []string, otherNS string) {
	r.mu.Lock()
	n := len(r.bodies)
	r.mu.Unlock()
	if n < 20 {
		t.Fatalf("only %d responses recorded: the proxy saw no real session", n)
	}
	for _, leak := range r.leaks(forbidden, secrets, otherNS) {
		t.Error(leak)
	}
	t.Logf("checked %d responses for %d strings of the other tenant", n, len(forbidden))
}

// leaks lists responses holding a forbidden string, successful ones naming
// the other tenant's namespace, and request URLs carrying a secret.
func (r *recorder) leaks(forbidden, secrets []string, otherNS string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for i := range r.bodies {
		b := &r.bodies[i]
		body := b.body.String()
		for _, s := range forbidden {
			if strings.Contains(body, s) || strings.Contains(b.url, s) {
				out = append(out, fmt.Sprintf("response to %s contains %q, which belongs to another tenant", b.url, s))
			}
		}
		if b.code < 300 && strings.Contains(body, otherNS) {
			out = append(out, fmt.Sprintf("successful response to %s names namespace %s", b.url, otherNS))
		}
		for _, s := range secrets {
			if strings.Contains(b.url, s) {
				out = append(out, "a request URL carries a secret: "+b.url)
			}
		}
	}
	return out
}

// recordingProxy serves the factory over its own TLS listener (HTTP/2, so
// the page's watches do not exhaust connections), recording responses.
func recordingProxy(t *testing.T, f *server.Factory, rec *recorder) *httptest.Server {
	target, _ := url.Parse(f.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = f.HTTPClient().Transport
	rp.FlushInterval = -1
	rp.ModifyResponse = rec.wrap
	srv := httptest.NewUnstartedServer(rp)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
