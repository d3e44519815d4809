package remote

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/auth"
	"github.com/kilnbuild/kiln/internal/oci"
)

// maxChunk bounds one log chunk or report a worker sends.
const maxChunk = 4 << 20

// Handler serves the worker protocol at PathPrefix. Every request carries
// a worker token (`kiln token create --worker NAME`); the worker's name
// comes from the token, never from the request.
func (p *Pool) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathPrefix+"lease", p.worker(p.serveLease))
	mux.HandleFunc("GET "+PathPrefix+"builds/{ns}/{name}/source", p.worker(p.serveSource))
	mux.HandleFunc("POST "+PathPrefix+"builds/{ns}/{name}/renew", p.worker(p.serveRenew))
	mux.HandleFunc("POST "+PathPrefix+"builds/{ns}/{name}/log", p.worker(p.serveLog))
	mux.HandleFunc("POST "+PathPrefix+"builds/{ns}/{name}/progress", p.worker(p.serveProgress))
	mux.HandleFunc("POST "+PathPrefix+"builds/{ns}/{name}/complete", p.worker(p.serveComplete))
	return mux
}

type workerHandler func(w http.ResponseWriter, r *http.Request, id *auth.Identity) error

// worker authenticates a worker token and maps errors to statuses.
func (p *Pool) worker(h workerHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p.init()
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || p.Authn == nil {
			writeError(w, http.StatusUnauthorized, "a worker token is required (kiln token create --worker NAME)")
			return
		}
		id, err := p.Authn.Authenticate(r.Context(), strings.TrimSpace(token))
		if err != nil {
			writeError(w, http.StatusUnauthorized, err.Error())
			return
		}
		if id.Scope == nil || id.Scope.Worker == "" {
			writeError(w, http.StatusForbidden, id.User+" is not a worker: create a worker token with `kiln token create --worker NAME`")
			return
		}
		if err := h(w, r, id); err != nil {
			writeError(w, statusOf(err), err.Error())
		}
	}
}

// errBadRequest marks a malformed request.
var errBadRequest = errors.New("bad request")

// errForbidden marks a request the worker's token does not allow.
var errForbidden = errors.New("forbidden")

func statusOf(err error) int {
	switch {
	case errors.Is(err, errNotHeld):
		return http.StatusConflict
	case errors.Is(err, errBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, errForbidden):
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}

func (p *Pool) serveLease(w http.ResponseWriter, r *http.Request, id *auth.Identity) error {
	var req LeaseRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if !v1alpha1.ValidPlatform(req.Platform) || req.Capacity < 1 {
		return fmt.Errorf("%w: want a platform such as linux/amd64 and a capacity of at least 1 (got %q, %d)", errBadRequest, req.Platform, req.Capacity)
	}
	if !slices.Contains(id.Scope.Platforms, req.Platform) {
		return fmt.Errorf("%w: worker %s may lease builds for %s only, not %s (its token sets the platforms)", errForbidden, id.Scope.Worker, strings.Join(id.Scope.Platforms, ", "), req.Platform)
	}
	task, err := p.lease(r.Context(), id.Scope.Worker, req)
	if err != nil {
		return err
	}
	if task == nil {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	writeJSON(w, http.StatusOK, task)
	return nil
}

// generation reads the generation query parameter.
func generation(r *http.Request) (int64, error) {
	g, err := strconv.ParseInt(r.URL.Query().Get("generation"), 10, 64)
	if err != nil || g < 1 {
		return 0, fmt.Errorf("%w: want ?generation=N, the lease generation of the task", errBadRequest)
	}
	return g, nil
}

func keyOf(r *http.Request) buildKey { return buildKey{r.PathValue("ns"), r.PathValue("name")} }

func (p *Pool) serveSource(w http.ResponseWriter, r *http.Request, id *auth.Identity) error {
	gen, err := generation(r)
	if err != nil {
		return err
	}
	a, err := p.held(id.Scope.Worker, keyOf(r), gen)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-tar")
	if err := oci.WriteTree(a.task.SourceDir, a.task.Epoch, w); err != nil {
		p.Log.Error("serving a build's source to a worker", "build", a.key.ns+"/"+a.key.name, "err", err)
	}
	return nil
}

func (p *Pool) serveRenew(w http.ResponseWriter, r *http.Request, id *auth.Identity) error {
	var req Renewal
	if err := decode(r, &req); err != nil {
		return err
	}
	exp, err := p.renew(r.Context(), id.Scope.Worker, keyOf(r), req.Generation)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, RenewResponse{Expires: exp})
	return nil
}

func (p *Pool) serveLog(w http.ResponseWriter, r *http.Request, id *auth.Identity) error {
	gen, err := generation(r)
	if err != nil {
		return err
	}
	offset, err := strconv.ParseInt(r.URL.Query().Get("offset"), 10, 64)
	if err != nil || offset < 0 {
		return fmt.Errorf("%w: want ?offset=N, the chunk's position in the worker's log", errBadRequest)
	}
	chunk, err := io.ReadAll(io.LimitReader(r.Body, maxChunk+1))
	if err != nil || len(chunk) > maxChunk {
		return fmt.Errorf("%w: a log chunk of at most %d bytes", errBadRequest, maxChunk)
	}
	if err := p.appendLog(id.Scope.Worker, keyOf(r), gen, offset, chunk); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (p *Pool) serveProgress(w http.ResponseWriter, r *http.Request, id *auth.Identity) error {
	var req Progress
	if err := decode(r, &req); err != nil {
		return err
	}
	a, err := p.held(id.Scope.Worker, keyOf(r), req.Generation)
	if err != nil {
		return err
	}
	if a.job.Progress != nil {
		a.job.Progress(req.Steps)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (p *Pool) serveComplete(w http.ResponseWriter, r *http.Request, id *auth.Identity) error {
	var req Completion
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := p.complete(id.Scope.Worker, keyOf(r), req); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func decode(r *http.Request, v any) error {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxChunk+1))
	if err != nil || len(data) > maxChunk {
		return fmt.Errorf("%w: a JSON body of at most %d bytes", errBadRequest, maxChunk)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %v", errBadRequest, err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// ErrorBody is the JSON of an error answer.
type ErrorBody struct {
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, ErrorBody{Message: msg})
}
