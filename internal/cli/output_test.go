package cli

import (
	"bytes"
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kilnbuild/kiln/internal/client"
)

func TestFormatCell(t *testing.T) {
	date := metav1.TableColumnDefinition{Type: "date"}
	str := metav1.TableColumnDefinition{Type: "string"}
	for _, tc := range []struct {
		def  metav1.TableColumnDefinition
		v    any
		want string
	}{
		{str, nil, "<none>"},
		{str, "x", "x"},
		{str, float64(3), "3"},
		{str, 2.5, "2.5"},
		{str, true, "true"},
		{str, []any{"a", "b"}, `["a","b"]`},
		{date, created.Format(time.RFC3339), "90m"},
		{date, created.Add(-48 * time.Hour).Format(time.RFC3339), "2d1h"},
		{date, "5m", "5m"}, // already an age: the real server computes it
		{date, "", ""},
	} {
		if got := formatCell(tc.def, tc.v, created.Add(90*time.Minute)); got != tc.want {
			t.Errorf("formatCell(%v, %#v) = %q, want %q", tc.def.Type, tc.v, got, tc.want)
		}
	}
}

func TestPrintError(t *testing.T) {
	var b bytes.Buffer
	PrintError(&b, errors.New("boom"))
	PrintError(&b, &client.StatusError{Status: metav1.Status{Code: 422, Reason: metav1.StatusReasonInvalid,
		Message: `Component "web" is invalid`, Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{
			{Field: "spec.application", Message: "Required value"}}}}})
	want := "error: boom\nError from server (Invalid): Component \"web\" is invalid\n  spec.application: Required value\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestSpinnerOnlyOnTerminals(t *testing.T) {
	var b bytes.Buffer
	stop := startSpinner(&b, "waiting")
	time.Sleep(20 * time.Millisecond)
	stop()
	if b.Len() != 0 {
		t.Errorf("spinner drew on a buffer: %q", b.String())
	}
}
