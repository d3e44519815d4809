package oci

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

func TestAuthChallengesAndTokens(t *testing.T) {
	t.Parallel()
	tr := startRegistry(t, t.TempDir())
	cases := []struct {
		name, method, path, auth string
		want                     int
	}{
		{"no credentials", "GET", "/v2/", "", 401},
		{"wrong token", "GET", "/v2/", "Basic " + basic("u", "nope"), 401},
		{"basic token", "GET", "/v2/", "Basic " + basic("whoever", tokenA), 200},
		{"bearer token", "GET", "/v2/", "Bearer " + tokenA, 200},
		{"malformed basic", "GET", "/v2/", "Basic !!!", 401},
		{"pull own namespace", "GET", "/v2/team-a/app/tags/list", "Bearer " + tokenA, 404}, // allowed; repo unknown
		{"pull other namespace", "GET", "/v2/team-b/app/tags/list", "Bearer " + tokenA, 403},
		{"push other namespace", "POST", "/v2/team-b/app/blobs/uploads/", "Bearer " + tokenA, 403},
		{"viewer pulls", "GET", "/v2/team-a/app/tags/list", "Bearer " + tokenViewer, 404},
		{"viewer pushes", "POST", "/v2/team-a/app/blobs/uploads/", "Bearer " + tokenViewer, 403},
		{"viewer deletes", "DELETE", "/v2/team-a/app/manifests/sha256:" + strings.Repeat("a", 64), "Bearer " + tokenViewer, 403},
		{"viewer referrers other ns", "GET", "/v2/team-b/app/referrers/sha256:" + strings.Repeat("a", 64), "Bearer " + tokenViewer, 403},
		{"catalog tenant", "GET", "/v2/_catalog", "Bearer " + tokenA, 403},
		{"catalog admin", "GET", "/v2/_catalog", "Bearer " + tokenAdmin, 200},
		{"single component repo", "POST", "/v2/app/blobs/uploads/", "Bearer " + tokenAdmin, 403},
		{"not an API path", "POST", "/v2/Team:80/app/blobs/uploads/", "Bearer " + tokenAdmin, 404},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, tr.srv.URL+c.path, nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		resp, err := tr.srv.Client().Do(req)
		mustNil(t, err)
		body := readBody(t, resp)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: %s %s = %d, want %d (%s)", c.name, c.method, c.path, resp.StatusCode, c.want, body)
		}
		if c.want == 401 && resp.Header.Get("WWW-Authenticate") != `Basic realm="kiln"` {
			t.Errorf("%s: WWW-Authenticate = %q", c.name, resp.Header.Get("WWW-Authenticate"))
		}
		if c.want == 403 && !strings.Contains(body, `"code":"DENIED"`) {
			t.Errorf("%s: body = %s", c.name, body)
		}
	}
}

func basic(user, pass string) string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(user, pass)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

func TestClientAuthErrors(t *testing.T) {
	t.Parallel()
	tr := startRegistry(t, t.TempDir())
	ctx := context.Background()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"f": "x"})

	_, err := PushDirectory(ctx, tr.ref("team-b/app:v1"), dir, PushOptions{Remote: tr.remote(tokenA)})
	if err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "team-b/app") {
		t.Fatalf("tenant A pushing to team-b: %v", err)
	}
	_, err = PushDirectory(ctx, tr.ref("team-a/app:v1"), dir, PushOptions{Remote: tr.remote("stolen")})
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("unknown token: %v", err)
	}
	_, err = PushDirectory(ctx, tr.ref("team-a/app:v1"), dir, PushOptions{Remote: Remote{Token: tokenA}})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without Kiln's CA: %v", err)
	}
	if _, err = PushDirectory(ctx, tr.ref("team-a/app:v1"), dir, PushOptions{Remote: tr.remote(tokenA)}); err != nil {
		t.Fatalf("tenant A pushing to team-a: %v", err)
	}
}

// A blob mount from a repository the caller may not read must not succeed:
// the registry turns it into an ordinary upload (202), not a mount (201).
func TestCrossTenantMountRefused(t *testing.T) {
	t.Parallel()
	tr := startRegistry(t, t.TempDir())
	ctx := context.Background()
	d, err := PushArtifact(ctx, tr.ref("team-b/secret:v1"), []Blob{{MediaType: "text/plain", Data: []byte("b's secret")}},
		PushOptions{Remote: tr.remote(tokenB)})
	mustNil(t, err)
	m := fetchManifest(t, tr, "team-b/secret", d.Digest, tokenB)
	layer := m.Layers[0].Digest.String()

	mount := "/v2/team-a/steal/blobs/uploads/?mount=" + layer + "&from=team-b/secret"
	if resp := tr.do(t, http.MethodPost, mount, tokenA, nil, nil); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("cross-tenant mount = %d, want 202 (plain upload)", resp.StatusCode)
	}
	if resp := tr.do(t, http.MethodGet, "/v2/team-a/steal/blobs/"+layer, tokenA, nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("stolen blob readable: %d", resp.StatusCode)
	}
	// Form-encoded bodies are checked too.
	resp := tr.do(t, http.MethodPost, "/v2/team-a/steal/blobs/uploads/", tokenA,
		strings.NewReader("mount="+layer+"&from=team-b/secret"),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("form mount = %d", resp.StatusCode)
	}
	// The admin may read team-b, so the mount happens.
	resp = tr.do(t, http.MethodPost, "/v2/team-a/copy/blobs/uploads/?mount="+layer+"&from=team-b/secret", tokenAdmin, nil, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("admin mount = %d %s", resp.StatusCode, readBody(t, resp))
	}
}

func TestAuthorizerFailureIsServerError(t *testing.T) {
	t.Parallel()
	reg, err := NewRegistry(Config{Dir: t.TempDir(), Log: slog.New(slog.DiscardHandler), Authorizer: AuthorizerFunc(
		func(context.Context, string, string, Action) error { return errors.New("database down") })})
	mustNil(t, err)
	defer reg.Close()
	req, _ := http.NewRequest("GET", "/v2/", nil)
	req.Header.Set("Authorization", "Bearer x")
	rec := newRecorder()
	reg.ServeHTTP(rec, req)
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "database") {
		t.Fatalf("= %d %s", rec.Code, rec.Body.String())
	}
	if _, err := NewRegistry(Config{Dir: t.TempDir()}); err == nil {
		t.Fatal("a registry without an Authorizer was created")
	}
}
