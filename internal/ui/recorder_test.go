package ui_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The tenancy check of the browser test must catch a leak in any body,
// streamed or not, and a secret in any URL.
func TestRecorderFindsLeaks(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	respond := func(u string, code int, body string) {
		req := &http.Request{URL: &url.URL{Path: u}}
		res := &http.Response{StatusCode: code, Request: req, Body: io.NopCloser(strings.NewReader(body))}
		_ = rec.wrap(res)
		_, _ = io.Copy(io.Discard, res.Body)
	}
	respond("/apis/x/builds", 200, `{"items":[{"metadata":{"name":"mine"}}]}`)
	respond("/apis/x/namespaces/tenant-b/builds", 403, `{"message":"forbidden in tenant-b"}`)
	if got := rec.leaks([]string{"bob-widget"}, []string{"kiln_secret"}, "tenant-b"); len(got) != 0 {
		t.Fatalf("clean responses reported: %v", got)
	}
	respond("/apis/x/builds?watch=1", 200, `{"type":"ADDED","object":{"metadata":{"name":"bob-widget-1"}}}`+"\n")
	respond("/apis/x/namespaces", 200, `{"items":[{"metadata":{"name":"tenant-b"}}]}`)
	respond("/ui/login?token=kiln_secret", 400, ``)
	if got := rec.leaks([]string{"bob-widget"}, []string{"kiln_secret"}, "tenant-b"); len(got) != 3 {
		t.Fatalf("want 3 leaks (streamed name, namespace in a 200, secret in a URL), got %d: %v", len(got), got)
	}
}
