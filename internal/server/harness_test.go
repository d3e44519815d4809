package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/apiserver/apitest"
)

// testFactory starts an in-process factory on SQLite in a temp dir.
func testFactory(t *testing.T, dataDir string) *Factory {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	f, err := Start(context.Background(), Config{DataDir: dataDir, Listen: "127.0.0.1:0", Log: quietLog()})
	if err != nil {
		t.Fatalf("starting factory: %v", err)
	}
	t.Cleanup(func() { _ = f.Stop() })
	return f
}

func quietLog() *slog.Logger {
	if os.Getenv("KILN_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// api is a raw HTTP client for tests, independent of internal/client
// (apitest.Client, with the short names these tests use).
type api struct {
	t     testing.TB
	base  string
	token string
	hc    *http.Client
}

type resp = apitest.Response

func (a api) client() apitest.Client {
	return apitest.Client{T: a.t, Base: a.base, Token: a.token, HTTP: a.hc}
}

func (a api) do(method, path string, body any, headers ...string) resp {
	a.t.Helper()
	return a.client().Do(method, path, body, headers...)
}

// must asserts the status code and returns the response.
func (a api) must(code int, method, path string, body any, headers ...string) resp {
	a.t.Helper()
	return a.client().Must(code, method, path, body, headers...)
}

// str digs a string out of a decoded object: str(o, "metadata", "name").
func str(o map[string]any, path ...string) string { return apitest.Str(o, path...) }

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

const kiln = "/apis/kiln.dev/v1alpha1"

func nsPath(ns, plural string) string { return kiln + "/namespaces/" + ns + "/" + plural }

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
