package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kilnbuild/kiln/internal/auth"
	"github.com/kilnbuild/kiln/internal/lineage"
	"github.com/kilnbuild/kiln/internal/trace"
)

// TracePath is where the trace endpoints live:
//
//	GET  TracePath/up?ref=REF[&namespace=NS][&depth=N][&limit=N]
//	GET  TracePath/down?ref=REF[&namespace=NS][&depth=N][&limit=N]
//	POST TracePath/imports        a trace.ImportRequest (maintainers of its namespace)
//	POST TracePath/reindex        cluster admins
const TracePath = kilnPrefix + "trace"

// Tracer is what the trace endpoints need (internal/trace).
type Tracer interface {
	Trace(ctx context.Context, q trace.Query) (*trace.Result, error)
	Import(ctx context.Context, req trace.ImportRequest) (*trace.ImportResult, error)
	Reindex(ctx context.Context) (*trace.ReindexResult, error)
}

// MountTrace serves the trace endpoints; call it before Handler.
func (s *Server) MountTrace(t Tracer) {
	s.Handle(TracePath+"/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serveTrace(w, r, t) }), false)
}

func (s *Server) serveTrace(w http.ResponseWriter, r *http.Request, t Tracer) {
	var err error
	switch rest := strings.TrimPrefix(r.URL.Path, TracePath+"/"); {
	case rest == "up" && r.Method == http.MethodGet:
		err = s.traceWalk(w, r, t, lineage.Up)
	case rest == "down" && r.Method == http.MethodGet:
		err = s.traceWalk(w, r, t, lineage.Down)
	case rest == "imports" && r.Method == http.MethodPost:
		err = s.traceImport(w, r, t)
	case rest == "reindex" && r.Method == http.MethodPost:
		err = s.traceReindex(w, r, t)
	case rest == "up" || rest == "down" || rest == "imports" || rest == "reindex":
		err = &methodError{r.Method, rest}
	default:
		err = notFound("no trace endpoint " + r.URL.Path + ": use " + TracePath + "/up, /down, /imports or /reindex")
	}
	if err != nil {
		s.writeError(w, r, traceStatus(err))
	}
}

func statusError(code int32, reason metav1.StatusReason, msg string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: code, Reason: reason, Message: msg}}
}

type methodError struct{ method, what string }

func (e *methodError) Error() string {
	return e.method + " is not supported on trace/" + e.what + ": up and down are GET, imports and reindex POST"
}

// traceStatus maps the trace package's errors to API errors.
func traceStatus(err error) error {
	var inv *trace.InvalidError
	var me *methodError
	switch {
	case errors.Is(err, trace.ErrNotFound):
		return notFound(err.Error())
	case errors.As(err, &inv):
		return badRequest(err.Error())
	case errors.As(err, &me):
		return statusError(http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed, err.Error())
	}
	return err
}

func (s *Server) traceWalk(w http.ResponseWriter, r *http.Request, t Tracer, d lineage.Direction) error {
	q := r.URL.Query()
	id := IdentityFrom(r.Context())
	ref, err := trace.ParseRef(q.Get("ref"), q.Get("namespace"))
	if err != nil {
		return badRequest(err.Error())
	}
	for _, m := range ref.Matches { // a name: whether it exists is the namespace's business
		if m.Namespace != "" {
			if err := s.mayRead(r.Context(), id, m.Namespace); err != nil {
				return err
			}
		}
	}
	query := trace.Query{Direction: d, Ref: ref}
	if query.Depth, err = intParam(q.Get("depth"), "depth"); err != nil {
		return err
	}
	if query.Limit, err = intParam(q.Get("limit"), "limit"); err != nil {
		return err
	}
	if query.Readable, err = s.readable(r.Context(), id); err != nil {
		return err
	}
	res, err := t.Trace(r.Context(), query)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func intParam(v, name string) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > trace.MaxLimit {
		return 0, badRequest(name + " " + strconv.Quote(v) + ": want a whole number from 0 to " + strconv.Itoa(trace.MaxLimit))
	}
	return n, nil
}

// readable is what a trace may show the caller: every namespace for
// cluster admins, else those where it has a role (every role reads).
func (s *Server) readable(ctx context.Context, id *auth.Identity) (func(string) bool, error) {
	if id.ClusterAdmin {
		return func(string) bool { return true }, nil
	}
	b, err := s.authz.Bindings(ctx, id)
	if err != nil {
		return nil, err
	}
	return func(ns string) bool { return len(b[ns]) > 0 }, nil
}

func (s *Server) mayRead(ctx context.Context, id *auth.Identity, ns string) error {
	return s.allow(ctx, id, auth.Attributes{Verb: auth.VerbGet, Kind: "Build", Namespaced: true, Namespace: ns})
}

func (s *Server) allow(ctx context.Context, id *auth.Identity, a auth.Attributes) error {
	dec, err := s.authz.Authorize(ctx, id, a)
	if err != nil {
		return err
	}
	if !dec.Allowed {
		return forbidden(dec.Reason)
	}
	return nil
}

func (s *Server) traceImport(w http.ResponseWriter, r *http.Request, t Tracer) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, trace.MaxImportBytes+1))
	if err != nil {
		return err
	}
	if len(body) > trace.MaxImportBytes {
		return statusError(http.StatusRequestEntityTooLarge, metav1.StatusReasonRequestEntityTooLarge,
			"an import is at most "+strconv.Itoa(trace.MaxImportBytes>>20)+" MiB of attestations")
	}
	var req trace.ImportRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return badRequest("ImportRequest: " + err.Error())
	}
	id := IdentityFrom(r.Context())
	if req.Namespace == "" {
		return badRequest("ImportRequest: namespace is required")
	}
	if err := s.allow(r.Context(), id, auth.Attributes{Verb: auth.VerbCreate, Kind: "Build", Namespaced: true, Namespace: req.Namespace}); err != nil {
		return err
	}
	res, err := t.Import(r.Context(), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, res)
	return nil
}

func (s *Server) traceReindex(w http.ResponseWriter, r *http.Request, t Tracer) error {
	if !IdentityFrom(r.Context()).ClusterAdmin {
		return forbidden("only cluster admins may rebuild the trace index")
	}
	res, err := t.Reindex(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}
