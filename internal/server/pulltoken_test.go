package server

import (
	"net/http"
	"testing"
	"time"
)

// TestPullTokensWorkOnEveryReplica: a registry pull token one replica
// minted (a Kubernetes Pod's image pull secret) is accepted by every
// replica sharing its shared directory, and by none that does not.
func TestPullTokensWorkOnEveryReplica(t *testing.T) {
	t.Parallel()
	shared := t.TempDir()
	start := func(sharedDir string) *Factory {
		f, err := Start(t.Context(), Config{DataDir: t.TempDir(), SharedDir: sharedDir, Listen: "127.0.0.1:0", Log: quietLog()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = f.Stop() })
		return f
	}
	a, b, other := start(shared), start(shared), start(t.TempDir())
	tok, err := a.pullTokens.PullToken([]string{"team-a/app"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	status := func(f *Factory) int {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", f.URL+"/v2/team-a/app/manifests/latest", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := f.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for name, f := range map[string]*Factory{"the minting replica": a, "another replica": b} {
		if got := status(f); got == http.StatusUnauthorized || got == http.StatusForbidden {
			t.Errorf("%s refused the pull token: %d", name, got)
		}
	}
	if got := status(other); got != http.StatusUnauthorized {
		t.Errorf("a server with another shared directory answered %d, want 401", got)
	}
}
