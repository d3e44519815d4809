package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Sentinel errors matched by errors.Is against a *StatusError's reason.
var (
	ErrNotFound             = errors.New("not found")
	ErrAlreadyExists        = errors.New("already exists")
	ErrConflict             = errors.New("conflict")
	ErrInvalid              = errors.New("invalid")
	ErrForbidden            = errors.New("forbidden")
	ErrUnauthorized         = errors.New("unauthorized")
	ErrGone                 = errors.New("gone")
	ErrBadRequest           = errors.New("bad request")
	ErrUnsupportedMediaType = errors.New("unsupported media type")
)

var reasonSentinels = map[metav1.StatusReason]error{
	metav1.StatusReasonNotFound:             ErrNotFound,
	metav1.StatusReasonAlreadyExists:        ErrAlreadyExists,
	metav1.StatusReasonConflict:             ErrConflict,
	metav1.StatusReasonInvalid:              ErrInvalid,
	metav1.StatusReasonForbidden:            ErrForbidden,
	metav1.StatusReasonUnauthorized:         ErrUnauthorized,
	metav1.StatusReasonGone:                 ErrGone,
	metav1.StatusReasonExpired:              ErrGone,
	metav1.StatusReasonBadRequest:           ErrBadRequest,
	metav1.StatusReasonUnsupportedMediaType: ErrUnsupportedMediaType,
}

var codeReasons = map[int32]metav1.StatusReason{
	http.StatusBadRequest:           metav1.StatusReasonBadRequest,
	http.StatusUnauthorized:         metav1.StatusReasonUnauthorized,
	http.StatusForbidden:            metav1.StatusReasonForbidden,
	http.StatusNotFound:             metav1.StatusReasonNotFound,
	http.StatusMethodNotAllowed:     metav1.StatusReasonMethodNotAllowed,
	http.StatusConflict:             metav1.StatusReasonConflict,
	http.StatusGone:                 metav1.StatusReasonGone,
	http.StatusUnsupportedMediaType: metav1.StatusReasonUnsupportedMediaType,
	http.StatusUnprocessableEntity:  metav1.StatusReasonInvalid,
	http.StatusTooManyRequests:      metav1.StatusReasonTooManyRequests,
	http.StatusInternalServerError:  metav1.StatusReasonInternalError,
	http.StatusServiceUnavailable:   metav1.StatusReasonServiceUnavailable,
	http.StatusGatewayTimeout:       metav1.StatusReasonTimeout,
}

// StatusError is a failure reported by the server as a metav1.Status.
type StatusError struct {
	Status metav1.Status
}

// Reason returns the status reason, derived from the code when the server
// left it empty.
func (e *StatusError) Reason() metav1.StatusReason {
	if e.Status.Reason != "" {
		return e.Status.Reason
	}
	return codeReasons[e.Status.Code]
}

// Code returns the HTTP status code.
func (e *StatusError) Code() int { return int(e.Status.Code) }

// Error renders the error like kubectl does:
//
//	Error from server (Invalid): <message>
//	  <field>: <message>
//
// Authentication failures get a hint on how to fix the token.
func (e *StatusError) Error() string {
	var b strings.Builder
	reason := e.Reason()
	if reason == "" {
		reason = metav1.StatusReason(http.StatusText(e.Code()))
	}
	msg := e.Status.Message
	if msg == "" {
		msg = strings.ToLower(http.StatusText(e.Code()))
	}
	fmt.Fprintf(&b, "Error from server (%s): %s", reason, msg)
	if d := e.Status.Details; d != nil {
		for _, c := range d.Causes {
			writeCause(&b, c)
		}
	}
	if e.Code() == http.StatusUnauthorized {
		b.WriteString("\nThe server rejected the token: check it with `kiln config view`, " +
			"set a new one with `kiln config set-token TOKEN` (or --token), " +
			"or run `kiln up` to start a local server and write ./.kiln/client.yaml")
	}
	return b.String()
}

func writeCause(b *strings.Builder, c metav1.StatusCause) {
	switch {
	case c.Field != "" && c.Message != "":
		fmt.Fprintf(b, "\n  %s: %s", c.Field, c.Message)
	case c.Message != "":
		fmt.Fprintf(b, "\n  %s", c.Message)
	case c.Field != "":
		fmt.Fprintf(b, "\n  %s: %s", c.Field, c.Type)
	}
}

// Is reports whether target is the sentinel matching the error's reason
// (ErrNotFound, ErrConflict, ...).
func (e *StatusError) Is(target error) bool {
	s, ok := reasonSentinels[e.Reason()]
	return ok && s == target
}

// IsNotFound reports whether err is a NotFound StatusError.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// IsConflict reports whether err is a Conflict StatusError.
func IsConflict(err error) bool { return errors.Is(err, ErrConflict) }

// IsAlreadyExists reports whether err is an AlreadyExists StatusError.
func IsAlreadyExists(err error) bool { return errors.Is(err, ErrAlreadyExists) }

// newStatusError decodes a non-2xx response body. Bodies that are not a
// metav1.Status become one built from the HTTP code and the body text.
func newStatusError(code int, body []byte) *StatusError {
	var st metav1.Status
	if err := json.Unmarshal(body, &st); err == nil && (st.Kind == "Status" || st.Message != "" || st.Reason != "") {
		if st.Code == 0 {
			st.Code = int32(code)
		}
		return &StatusError{Status: st}
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > 512 {
		msg = msg[:512] + "..."
	}
	if msg == "" {
		msg = fmt.Sprintf("the server responded with %d %s", code, http.StatusText(code))
	}
	return &StatusError{Status: metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    int32(code),
		Reason:  codeReasons[int32(code)],
		Message: msg,
	}}
}
