package apitest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// Client is a raw HTTP client of the API for tests, independent of
// internal/client: it shows status codes and bodies as they are.
type Client struct {
	T     testing.TB
	Base  string
	Token string
	HTTP  *http.Client
}

// Response is one answer.
type Response struct {
	Code int
	Body []byte
	// Obj is the body decoded as a JSON object (nil if it is not one).
	Obj map[string]any
}

// Admin returns a client of the cluster admin.
func (e *Env) Admin(t testing.TB) Client { return e.As(t, e.AdminToken) }

// As returns a client sending token.
func (e *Env) As(t testing.TB, token string) Client {
	return Client{T: t, Base: e.URL, Token: token, HTTP: http.DefaultClient}
}

// UserToken creates the user (not a cluster admin) and returns a token of
// theirs.
func (e *Env) UserToken(t testing.TB, user string) string {
	t.Helper()
	return UserToken(e.Admin(t), user)
}

// UserToken creates a user through admin and returns a token of theirs.
func UserToken(admin Client, user string) string {
	admin.T.Helper()
	admin.Must(201, "POST", "/apis/kiln.dev/v1alpha1/users", map[string]any{"metadata": map[string]any{"name": user}, "spec": map[string]any{"displayName": user}})
	r := admin.Must(201, "POST", "/apis/kiln.dev/v1alpha1/tokenrequests", map[string]any{"subject": user})
	return Str(r.Obj, "token")
}

// Do sends a request; body is nil, a string, bytes or a value sent as JSON;
// headers are name, value pairs (Content-Type defaults to JSON).
func (c Client) Do(method, path string, body any, headers ...string) Response {
	c.T.Helper()
	req, err := http.NewRequest(method, c.Base+path, bodyReader(body))
	if err != nil {
		c.T.Fatalf("%s %s: %v", method, path, err)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		c.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := Response{Code: res.StatusCode, Body: raw}
	_ = json.Unmarshal(raw, &r.Obj)
	return r
}

func bodyReader(body any) io.Reader {
	switch b := body.(type) {
	case nil:
		return nil
	case string:
		return strings.NewReader(b)
	case []byte:
		return bytes.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		return bytes.NewReader(raw)
	}
}

// Must sends a request and fails the test unless the status code is code.
func (c Client) Must(code int, method, path string, body any, headers ...string) Response {
	c.T.Helper()
	r := c.Do(method, path, body, headers...)
	if r.Code != code {
		c.T.Fatalf("%s %s: got %d, want %d: %s", method, path, r.Code, code, r.Body)
	}
	return r
}

// Str digs a scalar out of a decoded object as a string:
// Str(o, "metadata", "name"); "" when the path is missing.
func Str(o map[string]any, path ...string) string {
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

// RV is an object's metadata.resourceVersion as a number (0 if none).
func RV(o map[string]any) int64 {
	n, _ := strconv.ParseInt(Str(o, "metadata", "resourceVersion"), 10, 64)
	return n
}
