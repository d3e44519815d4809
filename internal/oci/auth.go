package oci

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// Action is what a registry request wants to do.
type Action string

const (
	// ActionLogin only proves the caller is authenticated (GET /v2/).
	ActionLogin Action = "login"
	// ActionPull reads manifests, blobs, tags and referrers.
	ActionPull Action = "pull"
	// ActionPush uploads blobs and manifests and moves tags.
	ActionPush Action = "push"
	// ActionDelete deletes manifests, tags and blobs.
	ActionDelete Action = "delete"
	// ActionCatalog lists every repository of every tenant.
	ActionCatalog Action = "catalog"
)

// Errors an Authorizer returns (wrapped); anything else is a server error.
var (
	// ErrUnauthenticated: no, unknown, revoked or expired token (HTTP 401).
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrForbidden: the caller may not do this in this namespace (HTTP 403).
	ErrForbidden = errors.New("forbidden")
)

// Authorizer decides registry requests. token is the Kiln token the client
// presented (Basic password or Bearer token; empty when none was sent).
// namespace is the first path component of the repository (empty for
// ActionLogin and ActionCatalog).
type Authorizer interface {
	Authorize(ctx context.Context, token, namespace string, action Action) error
}

// RepositoryAuthorizer is an Authorizer that can also decide by the whole
// repository name (<namespace>/<name>[/...]), for tokens scoped to one
// repository. The registry calls it instead of Authorize when the
// Authorizer implements it; repo is empty for ActionLogin and
// ActionCatalog.
type RepositoryAuthorizer interface {
	AuthorizeRepository(ctx context.Context, token, repo string, action Action) error
}

// AuthorizerFunc adapts a function to Authorizer.
type AuthorizerFunc func(ctx context.Context, token, namespace string, action Action) error

// Authorize calls f.
func (f AuthorizerFunc) Authorize(ctx context.Context, token, namespace string, action Action) error {
	return f(ctx, token, namespace, action)
}

// bearerOrBasic extracts the Kiln token from an Authorization header:
// "Bearer <token>" or "Basic base64(anyuser:<token>)".
func bearerOrBasic(header string) string {
	scheme, value, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok {
		return ""
	}
	value = strings.TrimSpace(value)
	switch strings.ToLower(scheme) {
	case "bearer":
		return value
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			return ""
		}
		_, password, _ := strings.Cut(string(raw), ":")
		return password
	}
	return ""
}

// authorize checks a request against the Authorizer and writes the
// registry-style error response when it is refused.
func (r *Registry) authorize(w http.ResponseWriter, req *http.Request, rt route) bool {
	token := bearerOrBasic(req.Header.Get("Authorization"))
	if token == "" {
		writeUnauthorized(w, "authentication required: log in with a Kiln token as the password")
		return false
	}
	err := r.decide(req.Context(), token, rt.repo, rt.namespace, rt.action)
	switch {
	case err == nil:
		return true
	case errors.Is(err, ErrUnauthenticated):
		writeUnauthorized(w, err.Error())
	case errors.Is(err, ErrForbidden):
		writeRegistryError(w, http.StatusForbidden, "DENIED", err.Error())
	default:
		r.log.Error("registry authorisation failed", "path", req.URL.Path, "err", err)
		writeRegistryError(w, http.StatusInternalServerError, "UNKNOWN", "authorisation failed")
	}
	return false
}

// decide asks the Authorizer, by repository when it can.
func (r *Registry) decide(ctx context.Context, token, repo, ns string, a Action) error {
	if ra, ok := r.auth.(RepositoryAuthorizer); ok {
		return ra.AuthorizeRepository(ctx, token, repo, a)
	}
	return r.auth.Authorize(ctx, token, ns, a)
}

// guardMount drops a cross-repository blob mount whose source the caller may
// not read; the client then uploads the blob instead (as the spec allows).
func (r *Registry) guardMount(req *http.Request, token string) {
	parseErr := req.ParseForm()
	from := req.Form.Get("from")
	if parseErr == nil && from == "" {
		return
	}
	if ns, ok := namespaceOf(from); ok && parseErr == nil &&
		r.decide(req.Context(), token, from, ns, ActionPull) == nil {
		return
	}
	req.Form, req.PostForm = url.Values{}, url.Values{}
	q := req.URL.Query()
	q.Del("from")
	q.Del("mount")
	req.URL.RawQuery = q.Encode()
}

func writeUnauthorized(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Basic realm="kiln"`)
	writeRegistryError(w, http.StatusUnauthorized, "UNAUTHORIZED", msg)
}
