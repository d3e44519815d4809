package oci

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// captureHandler records slog records.
type captureHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *captureHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r)
	return nil
}
func (h *captureHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *captureHandler) WithGroup(string) slog.Handler      { return h }

// Not parallel: distribution logs through a process-global logger.
func TestDistributionLogsGoToSlogAtDebug(t *testing.T) {
	h := &captureHandler{}
	reg, err := NewRegistry(Config{Dir: t.TempDir(), Authorizer: testGrants, Log: slog.New(h)})
	mustNil(t, err)
	defer reg.Close()
	req := httptest.NewRequest(http.MethodGet, "/v2/team-a/app/tags/list", nil)
	req.Header.Set("Authorization", "Bearer "+tokenA)
	reg.ServeHTTP(httptest.NewRecorder(), req)

	h.mu.Lock()
	defer h.mu.Unlock()
	found := false
	for _, r := range h.records {
		if r.Level != slog.LevelDebug {
			t.Errorf("record %q at %v, want debug", r.Message, r.Level)
		}
		r.Attrs(func(a slog.Attr) bool {
			found = found || (a.Key == "component" && a.Value.String() == "registry")
			return true
		})
	}
	if !found {
		t.Fatalf("no distribution log reached slog (%d records)", len(h.records))
	}
}
