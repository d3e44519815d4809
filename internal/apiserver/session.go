package apiserver

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/kilnbuild/kiln/internal/auth"
)

// Browser sessions (the web UI). A page signs in by POSTing a bearer token
// or a login code from `kiln ui` to /ui/login; it gets an HttpOnly, Secure,
// SameSite=Strict cookie holding a session id and never sees the token
// again. A request with that cookie is authenticated as the token's
// identity and authorised like any other. Every state-changing request
// made with a cookie must carry X-Kiln-CSRF (the session's CSRF token, read
// from /ui/session): a custom header no cross-site form can send.

const (
	// SessionCookie names the browser session cookie.
	SessionCookie = "kiln_session"
	// CSRFHeader carries the session's CSRF token on state-changing
	// requests made with the cookie (and any value on /ui/login).
	CSRFHeader = "X-Kiln-CSRF"
)

// loginRequest is /ui/login's body: exactly one of Token and Code.
type loginRequest struct {
	Token string `json:"token,omitempty"`
	Code  string `json:"code,omitempty"`
}

// sessionInfo is what the page learns about its session.
type sessionInfo struct {
	User         string `json:"user"`
	ClusterAdmin bool   `json:"clusterAdmin"`
	CSRF         string `json:"csrf"`
}

func (s *Server) sessionRoutes(mux *http.ServeMux) {
	mux.HandleFunc("/ui/login", s.login)
	mux.HandleFunc("/ui/logout", s.logout)
	mux.HandleFunc("/ui/session", s.session)
	mux.Handle("/ui/logincode", s.authed(http.HandlerFunc(s.loginCode)))
}

// login opens a session from a token or a login code.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if err := browserPost(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	var req loginRequest
	body, _ := io.ReadAll(io.LimitReader(r.Body, 8<<10))
	if err := json.Unmarshal(body, &req); err != nil || (req.Token == "") == (req.Code == "") {
		s.writeError(w, r, badRequest(`POST {"token": "kiln_…"} or {"code": "…"} (from kiln ui) as JSON`))
		return
	}
	var sid string
	var id *auth.Identity
	var err error
	if req.Code != "" {
		sid, id, err = s.sessions.Redeem(r.Context(), strings.TrimSpace(req.Code))
	} else {
		sid, id, err = s.sessions.Login(r.Context(), strings.TrimSpace(req.Token))
	}
	if err != nil {
		s.writeError(w, r, loginError(err))
		return
	}
	http.SetCookie(w, sessionCookie(sid, int(auth.SessionTTL.Seconds())))
	writeJSON(w, http.StatusOK, sessionInfo{User: id.User, ClusterAdmin: id.ClusterAdmin, CSRF: auth.CSRFToken(sid)})
}

func loginError(err error) error {
	if errors.Is(err, auth.ErrNoSession) {
		return unauthorized(err.Error() + ": run `kiln ui` again for a new link (codes work once, for 60 seconds)")
	}
	if errors.Is(err, auth.ErrUnauthenticated) {
		return unauthorized(err.Error())
	}
	return err
}

// logout deletes the session and clears the cookie.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		s.writeError(w, r, badRequest("POST to sign out"))
		return
	}
	c, err := r.Cookie(SessionCookie)
	if err == nil {
		if !auth.CSRFMatches(c.Value, r.Header.Get(CSRFHeader)) {
			s.writeError(w, r, forbidden("signing out needs the "+CSRFHeader+" header of this session"))
			return
		}
		if err := s.sessions.Logout(r.Context(), c.Value); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	http.SetCookie(w, sessionCookie("", -1))
	w.WriteHeader(http.StatusNoContent)
}

// session tells the page who it is signed in as, and its CSRF token.
func (s *Server) session(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		s.writeError(w, r, unauthorized("not signed in"))
		return
	}
	id, err := s.sessions.Identity(r.Context(), c.Value)
	if err != nil {
		http.SetCookie(w, sessionCookie("", -1))
		s.writeError(w, r, loginError(err))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, sessionInfo{User: id.User, ClusterAdmin: id.ClusterAdmin, CSRF: auth.CSRFToken(c.Value)})
}

// loginCode issues a single-use login code for the caller's bearer token
// (`kiln ui`). Only a bearer token may ask: a session cannot extend itself.
func (s *Server) loginCode(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if r.Method != http.MethodPost || !ok {
		s.writeError(w, r, badRequest("POST with a bearer token (kiln ui)"))
		return
	}
	code, err := s.sessions.NewLoginCode(r.Context(), strings.TrimSpace(token))
	if err != nil {
		s.writeError(w, r, loginError(err))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, map[string]any{"code": code, "expiresIn": int(auth.LoginCodeTTL.Seconds())})
}

// browserPost checks that /ui/login was POSTed as JSON by a page of this
// origin: the custom header and JSON content type make a cross-site
// request need a CORS preflight, which this server never grants.
func browserPost(r *http.Request) error {
	if r.Method != http.MethodPost {
		return badRequest("POST to sign in")
	}
	if r.Header.Get(CSRFHeader) == "" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		return forbidden("sign in from Kiln's page: the request needs the " + CSRFHeader + " header and a JSON body")
	}
	if !sameOrigin(r) {
		return forbidden("cross-origin sign-in refused")
	}
	return nil
}

// sameOrigin rejects a request whose Origin header names another host.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

func sessionCookie(sid string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: SessionCookie, Value: sid, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode}
}

// cookieIdentity authenticates a request by its session cookie. A
// state-changing request must carry the session's CSRF header and come
// from this origin.
func (s *Server) cookieIdentity(r *http.Request) (*auth.Identity, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || s.sessions == nil {
		return nil, unauthorized("no bearer token: pass --token, or use the client config written by `kiln up`")
	}
	id, err := s.sessions.Identity(r.Context(), c.Value)
	if err != nil {
		return nil, loginError(err)
	}
	if !safeMethod(r.Method) && (!auth.CSRFMatches(c.Value, r.Header.Get(CSRFHeader)) || !sameOrigin(r)) {
		return nil, forbidden("a change made with a session cookie needs the " + CSRFHeader + " header of this session")
	}
	return id, nil
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}
