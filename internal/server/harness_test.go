package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
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

// api is a minimal raw HTTP client for tests, independent of internal/client.
type api struct {
	t     testing.TB
	base  string
	token string
	hc    *http.Client
}

type resp struct {
	Code int
	Body []byte
	Obj  map[string]any
}

func (a api) do(method, path string, body any, headers ...string) resp {
	a.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, a.base+path, rd)
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := a.hc.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{Code: res.StatusCode, Body: raw}
	_ = json.Unmarshal(raw, &r.Obj)
	return r
}

// must asserts the status code and returns the response.
func (a api) must(code int, method, path string, body any, headers ...string) resp {
	a.t.Helper()
	r := a.do(method, path, body, headers...)
	if r.Code != code {
		a.t.Fatalf("%s %s: got %d, want %d: %s", method, path, r.Code, code, r.Body)
	}
	return r
}

// str digs a string out of a decoded object: str(o, "metadata", "name").
func str(o map[string]any, path ...string) string {
	var cur any = o
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = m[p]
	}
	switch v := cur.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

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
