// Package regtoken mints short-lived registry tokens that may only pull
// the repositories they name (a Kubernetes Pod's image pull secret), and
// checks them in front of the embedded registry.
//
// A token is "kilnpull_" + base64url(JSON {repositories, expiry}) + "." +
// base64url(HMAC-SHA256(key, that JSON)): nothing is stored, a token
// cannot be widened or extended without the key, and it expires by itself.
package regtoken

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Prefix starts every pull token.
const Prefix = "kilnpull_"

var b64 = base64.RawURLEncoding

// Issuer mints and checks pull tokens with one key.
type Issuer struct {
	key []byte
	now func() time.Time
}

// NewIssuer returns an issuer; key must be at least 32 bytes of secret.
func NewIssuer(key []byte) (*Issuer, error) {
	if len(key) < 32 {
		return nil, errors.New("regtoken: the key must be at least 32 bytes")
	}
	return &Issuer{key: key, now: time.Now}, nil
}

type claims struct {
	Repositories []string `json:"r"`
	Expires      int64    `json:"e"`
}

// PullToken mints a token that may pull the repositories for ttl.
func (i *Issuer) PullToken(repos []string, ttl time.Duration) (string, error) {
	if len(repos) == 0 || ttl <= 0 {
		return "", errors.New("regtoken: a token needs repositories and a lifetime")
	}
	payload, err := json.Marshal(claims{Repositories: repos, Expires: i.now().Add(ttl).Unix()})
	if err != nil {
		return "", err
	}
	return Prefix + b64.EncodeToString(payload) + "." + b64.EncodeToString(i.sign(payload)), nil
}

func (i *Issuer) sign(payload []byte) []byte {
	m := hmac.New(sha256.New, i.key)
	m.Write(payload)
	return m.Sum(nil)
}

// check returns the repositories a token may pull.
func (i *Issuer) check(token string) ([]string, error) {
	body, sig, ok := strings.Cut(strings.TrimPrefix(token, Prefix), ".")
	payload, err1 := b64.DecodeString(body)
	mac, err2 := b64.DecodeString(sig)
	if !ok || err1 != nil || err2 != nil || !hmac.Equal(mac, i.sign(payload)) {
		return nil, errors.New("invalid pull token")
	}
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, errors.New("invalid pull token")
	}
	if i.now().Unix() >= c.Expires {
		return nil, errors.New("the pull token expired")
	}
	return c.Repositories, nil
}

// Handler serves requests carrying a pull token itself: GET and HEAD of
// the manifests and blobs of the token's repositories (and /v2/) go to
// next authenticated as system (the registry's own credential, a Basic
// password); anything else with a pull token is refused. Requests
// without one go to next unchanged.
func (i *Issuer) Handler(next http.Handler, system string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		token := presented(req)
		if !strings.HasPrefix(token, Prefix) {
			next.ServeHTTP(w, req)
			return
		}
		repos, err := i.check(token)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Basic realm="kiln"`)
			deny(w, http.StatusUnauthorized, "UNAUTHORIZED", err.Error())
			return
		}
		if err := allowed(req, repos); err != nil {
			deny(w, http.StatusForbidden, "DENIED", err.Error())
			return
		}
		r := req.Clone(req.Context())
		r.SetBasicAuth("kiln", system)
		next.ServeHTTP(w, r)
	})
}

// allowed accepts GET or HEAD of /v2/, or of a manifest or blob of one of
// repos.
func allowed(req *http.Request, repos []string) error {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return fmt.Errorf("a pull token may only read (not %s)", req.Method)
	}
	p := req.URL.Path
	if p == "/v2/" || p == "/v2" {
		return nil
	}
	rest, ok := strings.CutPrefix(p, "/v2/")
	for _, kind := range []string{"/manifests/", "/blobs/"} {
		i := strings.LastIndex(rest, kind)
		if !ok || i <= 0 {
			continue
		}
		name, ref := rest[:i], rest[i+len(kind):]
		if ref != "" && !strings.Contains(ref, "/") && slices.Contains(repos, name) {
			return nil
		}
	}
	return fmt.Errorf("this pull token may read only %s", strings.Join(repos, ", "))
}

// presented is the token of a Bearer or Basic Authorization header.
func presented(req *http.Request) string {
	if _, pw, ok := req.BasicAuth(); ok {
		return pw
	}
	if tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer "); ok {
		return strings.TrimSpace(tok)
	}
	return ""
}

func deny(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
}
