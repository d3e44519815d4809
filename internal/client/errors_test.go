package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kilnbuild/kiln/internal/client"
)

func TestStatusErrorRendering(t *testing.T) {
	err := &client.StatusError{Status: metav1.Status{
		Code: 422, Reason: metav1.StatusReasonInvalid,
		Message: `Component "web" is invalid: spec.application: Required value`,
		Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{
			{Field: "spec.application", Message: "Required value"},
			{Field: "spec.source.git.url", Message: "must be an https URL"},
		}},
	}}
	want := `Error from server (Invalid): Component "web" is invalid: spec.application: Required value
  spec.application: Required value
  spec.source.git.url: must be an https URL`
	if got := err.Error(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if !errors.Is(err, client.ErrInvalid) || errors.Is(err, client.ErrNotFound) {
		t.Error("errors.Is does not follow the reason")
	}
}

func TestStatusErrorIs(t *testing.T) {
	for reason, sentinel := range map[metav1.StatusReason]error{
		metav1.StatusReasonNotFound:      client.ErrNotFound,
		metav1.StatusReasonConflict:      client.ErrConflict,
		metav1.StatusReasonAlreadyExists: client.ErrAlreadyExists,
		metav1.StatusReasonForbidden:     client.ErrForbidden,
	} {
		var err error = &client.StatusError{Status: metav1.Status{Reason: reason}}
		wrapped := errors.Join(errors.New("context"), err)
		if !errors.Is(wrapped, sentinel) {
			t.Errorf("%s: errors.Is(%v) = false", reason, sentinel)
		}
	}
	// reason derived from the code when missing
	err := &client.StatusError{Status: metav1.Status{Code: 404}}
	if !client.IsNotFound(err) {
		t.Error("code 404 without reason is not NotFound")
	}
}

func TestNonStatusBodiesAndAuthHint(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/text":
			http.Error(w, "upstream exploded", http.StatusBadGateway)
		case "/unauth":
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}`))
		}
	}))
	defer srv.Close()
	c := client.New(&client.Config{Server: srv.URL})
	_, err := c.Do(context.Background(), "GET", "/text", nil, nil)
	var se *client.StatusError
	if !errors.As(err, &se) || se.Code() != 502 || !strings.Contains(err.Error(), "upstream exploded") {
		t.Errorf("text body: err = %v", err)
	}
	_, err = c.Do(context.Background(), "GET", "/unauth", nil, nil)
	if !errors.Is(err, client.ErrUnauthorized) || !strings.Contains(err.Error(), "kiln up") {
		t.Errorf("401: err = %v, want a hint to run kiln up", err)
	}
}

func TestConnectionRefusedHint(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c := client.New(&client.Config{Server: url})
	_, err := c.Do(context.Background(), "GET", "/api", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "cannot reach the Kiln server") || !strings.Contains(err.Error(), "kiln up") {
		t.Errorf("err = %v", err)
	}
}
