package regtoken

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func newIssuer(t *testing.T) *Issuer {
	t.Helper()
	i, err := NewIssuer(bytes.Repeat([]byte("k"), 32))
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// serve sends one request with token as Basic password and returns the
// status and the password the registry behind saw.
func serve(t *testing.T, i *Issuer, method, path, token string) (int, string) {
	t.Helper()
	seen := ""
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, seen, _ = r.BasicAuth() })
	req := httptest.NewRequest(method, path, nil)
	req.SetBasicAuth("kiln", token)
	rec := httptest.NewRecorder()
	i.Handler(next, "system-secret").ServeHTTP(rec, req)
	return rec.Code, seen
}

func TestPullTokenReadsOnlyItsRepositories(t *testing.T) {
	i := newIssuer(t)
	tok, err := i.PullToken([]string{"team/tools", "kiln-system/pod-helper"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/v2/", 200},
		{"GET", "/v2/team/tools/manifests/sha256:abc", 200},
		{"HEAD", "/v2/team/tools/manifests/v1", 200},
		{"GET", "/v2/kiln-system/pod-helper/blobs/sha256:abc", 200},
		{"GET", "/v2/team/other/manifests/sha256:abc", 403},
		{"GET", "/v2/team/tools/sub/manifests/sha256:abc", 403},
		{"GET", "/v2/team/tools/tags/list", 403},
		{"GET", "/v2/team/tools/referrers/sha256:abc", 403},
		{"GET", "/v2/_catalog", 403},
		{"PUT", "/v2/team/tools/manifests/v2", 403},
		{"POST", "/v2/team/tools/blobs/uploads/", 403},
		{"DELETE", "/v2/team/tools/manifests/sha256:abc", 403},
		{"GET", "/v2/team/tools/manifests/../../other/manifests/x", 403},
	} {
		code, seen := serve(t, i, c.method, c.path, tok)
		if code != c.want {
			t.Errorf("%s %s: status %d, want %d", c.method, c.path, code, c.want)
		}
		if (code == 200) != (seen == "system-secret") {
			t.Errorf("%s %s: the registry saw password %q", c.method, c.path, seen)
		}
	}
}

func TestPullTokenExpiresAndCannotBeForged(t *testing.T) {
	i := newIssuer(t)
	now := time.Now()
	i.now = func() time.Time { return now }
	tok, err := i.PullToken([]string{"team/tools"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	body, sig, _ := strings.Cut(strings.TrimPrefix(tok, Prefix), ".")
	widened := Prefix + b64.EncodeToString([]byte(`{"r":["team/other"],"e":9999999999}`)) + "." + sig
	other, _ := NewIssuer(bytes.Repeat([]byte("x"), 32))
	foreign, _ := other.PullToken([]string{"team/tools"}, time.Minute)
	for name, bad := range map[string]string{"widened": widened, "other key": foreign, "truncated": Prefix + body} {
		if code, _ := serve(t, i, "GET", "/v2/team/tools/manifests/v1", bad); code != 401 {
			t.Errorf("%s token: status %d, want 401", name, code)
		}
	}
	now = now.Add(2 * time.Minute)
	if code, _ := serve(t, i, "GET", "/v2/team/tools/manifests/v1", tok); code != 401 {
		t.Errorf("expired token: status %d, want 401", code)
	}
}

func TestOtherCredentialsPassThrough(t *testing.T) {
	i := newIssuer(t)
	if code, seen := serve(t, i, "PUT", "/v2/team/tools/manifests/v1", "kiln_abc"); code != 200 || seen != "kiln_abc" {
		t.Fatalf("a Kiln token was not passed on unchanged: %d %q", code, seen)
	}
}
