package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// browser is a cookie-holding client of the web UI's session endpoints.
type browser struct {
	t      *testing.T
	base   string
	hc     *http.Client
	cookie *http.Cookie
	csrf   string
}

func newBrowser(t *testing.T, f *Factory) *browser {
	return &browser{t: t, base: f.URL, hc: f.HTTPClient()}
}

// do sends a request with the session cookie (if any) and extra headers.
func (b *browser) do(method, path, body string, headers ...string) *http.Response {
	b.t.Helper()
	req, _ := http.NewRequest(method, b.base+path, strings.NewReader(body))
	if b.cookie != nil {
		req.AddCookie(b.cookie)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	b.t.Cleanup(func() { _ = res.Body.Close() })
	return res
}

func (b *browser) code(method, path, body string, headers ...string) int {
	b.t.Helper()
	res := b.do(method, path, body, headers...)
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode
}

// login posts credentials as the page does and keeps the cookie.
func (b *browser) login(body string) int {
	b.t.Helper()
	res := b.do("POST", "/ui/login", body, "X-Kiln-CSRF", "1")
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		return res.StatusCode
	}
	for _, c := range res.Cookies() {
		if c.Name == "kiln_session" {
			b.cookie = c
		}
	}
	var info struct{ User, CSRF string }
	_ = json.Unmarshal(raw, &info)
	b.csrf = info.CSRF
	if strings.Contains(string(raw), "kiln_") {
		b.t.Errorf("login answer carries a token: %s", raw)
	}
	return res.StatusCode
}

func TestSessionCookieAuthorisesLikeTheToken(t *testing.T) {
	t.Parallel()
	f, _, alice, _ := tenants(t)
	b := newBrowser(t, f)
	if got := b.login(`{"token":"` + alice.token + `"}`); got != 200 {
		t.Fatalf("login: %d", got)
	}
	c := b.cookie
	if c == nil || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
		t.Fatalf("session cookie %+v: want HttpOnly, Secure, SameSite=Strict, Path=/", c)
	}
	if strings.Contains(c.Value, alice.token) || c.Value == "" {
		t.Fatalf("cookie value must be a session id, not the token")
	}
	if got := b.code("GET", nsPath("team-a", "applications"), ""); got != 200 {
		t.Errorf("own namespace with cookie: %d", got)
	}
	if got := b.code("GET", nsPath("team-b", "applications"), ""); got != 403 {
		t.Errorf("other tenant's namespace with cookie: %d, want 403", got)
	}
	res := b.do("GET", kiln+"/namespaces/team-b/builds?watch=1", "")
	if res.StatusCode != 403 {
		t.Errorf("watch of other tenant's namespace with cookie: %d, want 403", res.StatusCode)
	}
	res = b.do("GET", "/ui/session", "")
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.Contains(string(raw), `"user":"alice"`) || !strings.Contains(string(raw), b.csrf) {
		t.Errorf("/ui/session: %d %s", res.StatusCode, raw)
	}
}

func TestSessionWritesNeedCSRFHeader(t *testing.T) {
	t.Parallel()
	f, _, alice, _ := tenants(t)
	b := newBrowser(t, f)
	b.login(`{"token":"` + alice.token + `"}`)
	app := `{"metadata":{"name":"web"},"spec":{"displayName":"web"}}`
	path := nsPath("team-a", "applications")
	if got := b.code("POST", path, app); got != 403 {
		t.Errorf("POST with cookie, no CSRF header: %d, want 403", got)
	}
	if got := b.code("POST", path, app, "X-Kiln-CSRF", "forged"); got != 403 {
		t.Errorf("POST with cookie, wrong CSRF header: %d, want 403", got)
	}
	if got := b.code("POST", path, app, "X-Kiln-CSRF", b.csrf, "Origin", "https://evil.example"); got != 403 {
		t.Errorf("POST with cookie from another origin: %d, want 403", got)
	}
	if got := b.code("DELETE", path+"/web", "", "X-Kiln-CSRF", "forged"); got != 403 {
		t.Errorf("DELETE with cookie, wrong CSRF header: %d, want 403", got)
	}
	if got := b.code("POST", path, app, "X-Kiln-CSRF", b.csrf); got != 201 {
		t.Errorf("POST with cookie and CSRF header: %d, want 201", got)
	}
}

func TestSessionLoginIsRefusedCrossSite(t *testing.T) {
	t.Parallel()
	f, _, alice, _ := tenants(t)
	b := newBrowser(t, f)
	body := `{"token":"` + alice.token + `"}`
	if got := b.code("POST", "/ui/login", body); got != 403 {
		t.Errorf("login without the custom header (a cross-site form): %d, want 403", got)
	}
	if got := b.code("POST", "/ui/login", body, "X-Kiln-CSRF", "1", "Origin", "https://evil.example"); got != 403 {
		t.Errorf("login from another origin: %d, want 403", got)
	}
	if got := b.code("GET", "/ui/login?token="+alice.token, ""); got == 200 {
		t.Errorf("login by GET (token in a URL) must fail")
	}
	if got := b.login(`{"token":"kiln_000000000000_nope"}`); got != 401 {
		t.Errorf("login with a bad token: %d, want 401", got)
	}
}

func TestLoginCodeIsSingleUse(t *testing.T) {
	t.Parallel()
	f, _, alice, _ := tenants(t)
	r := alice.must(201, "POST", "/ui/logincode", nil)
	code := str(r.Obj, "code")
	if code == "" || str(r.Obj, "expiresIn") != "60" {
		t.Fatalf("login code answer: %s", r.Body)
	}
	b := newBrowser(t, f)
	if got := b.login(`{"code":"` + code + `"}`); got != 200 {
		t.Fatalf("redeeming the code: %d", got)
	}
	if got := b.code("GET", nsPath("team-a", "applications"), ""); got != 200 {
		t.Errorf("session from a code: %d", got)
	}
	again := newBrowser(t, f)
	if got := again.login(`{"code":"` + code + `"}`); got != 401 {
		t.Errorf("second use of a login code: %d, want 401", got)
	}
	// A session cannot mint codes for itself: only a bearer token can.
	if got := b.code("POST", "/ui/logincode", "", "X-Kiln-CSRF", b.csrf); got != 400 {
		t.Errorf("login code from a session: %d, want 400", got)
	}
}

func TestLogoutAndRevocationEndSessions(t *testing.T) {
	t.Parallel()
	f, admin, alice, _ := tenants(t)
	b := newBrowser(t, f)
	b.login(`{"token":"` + alice.token + `"}`)
	if got := b.code("POST", "/ui/logout", "", "X-Kiln-CSRF", "forged"); got != 403 {
		t.Errorf("logout with a forged CSRF header: %d, want 403", got)
	}
	if got := b.code("POST", "/ui/logout", "", "X-Kiln-CSRF", b.csrf); got != 204 {
		t.Errorf("logout: %d", got)
	}
	if got := b.code("GET", nsPath("team-a", "applications"), ""); got != 401 {
		t.Errorf("after logout the old cookie: %d, want 401", got)
	}
	r := alice.must(201, "POST", kiln+"/tokenrequests", map[string]any{"description": "ui"})
	b2 := newBrowser(t, f)
	b2.login(`{"token":"` + str(r.Obj, "token") + `"}`)
	if got := b2.code("GET", nsPath("team-a", "applications"), ""); got != 200 {
		t.Fatalf("session: %d", got)
	}
	admin.must(200, "DELETE", kiln+"/tokens/"+str(r.Obj, "name"), nil)
	if got := b2.code("GET", nsPath("team-a", "applications"), ""); got != 401 {
		t.Errorf("session of a revoked token: %d, want 401", got)
	}
}

func TestUIServedWithStrictHeaders(t *testing.T) {
	t.Parallel()
	f := testFactory(t, "")
	b := newBrowser(t, f)
	for _, p := range []string{"/", "/ns/demo/builds/x", "/login"} {
		res := b.do("GET", p, "")
		raw, _ := io.ReadAll(res.Body)
		csp := res.Header.Get("Content-Security-Policy")
		if res.StatusCode != 200 || !strings.Contains(string(raw), "<html") && !strings.Contains(string(raw), "<!doctype html") {
			t.Errorf("GET %s: %d %.80s", p, res.StatusCode, raw)
		}
		if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "connect-src 'self'") || strings.Contains(csp, "unsafe") {
			t.Errorf("GET %s: CSP %q", p, csp)
		}
		if res.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s: index.html Cache-Control %q, want no-store", p, res.Header.Get("Cache-Control"))
		}
	}
	if got := b.code("GET", "/assets/missing.js", ""); got != 404 {
		t.Errorf("missing asset: %d, want 404", got)
	}
	if got := b.code("POST", "/", ""); got != 405 {
		t.Errorf("POST to the UI: %d, want 405", got)
	}
	if got := b.code("GET", "/api/v1/namespaces", ""); got != 401 {
		t.Errorf("API without credentials: %d, want 401", got)
	}
}

func TestKilnUIPrintsASingleUseLoginLink(t *testing.T) {
	t.Parallel()
	f := testFactory(t, "")
	out, err := kilnCLI(t, f)("ui", "--print", "-n", "demo")
	if err != nil {
		t.Fatalf("kiln ui --print: %v\n%s", err, out)
	}
	link := strings.TrimSpace(out)
	page, frag, ok := strings.Cut(link, "#")
	if !ok || page != f.URL+"/login" || strings.Contains(link, f.AdminToken) {
		t.Fatalf("kiln ui printed %q: want %s/login#code=… and never the token", link, f.URL)
	}
	vals, _ := url.ParseQuery(frag)
	if vals.Get("ns") != "demo" {
		t.Errorf("fragment %q: want ns=demo", frag)
	}
	b := newBrowser(t, f)
	if got := b.login(`{"code":"` + vals.Get("code") + `"}`); got != 200 {
		t.Fatalf("redeeming the printed code: %d", got)
	}
	if got := b.code("GET", "/api/v1/namespaces", ""); got != 200 {
		t.Errorf("session opened by kiln ui: %d", got)
	}
}
