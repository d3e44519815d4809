package apiserver

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/auth"
)

// requestInfo is what a resource path and method mean, Kubernetes-style.
type requestInfo struct {
	Group, Version string
	Resource       string
	Namespace      string
	Name           string
	Subresource    string
	Verb           string
	Kind           *v1alpha1.Kind
	// Part selects within a subresource (a snapshot log's scenario).
	Part string
}

// parsePath splits /api/v1/... and /apis/GROUP/VERSION/... paths. ok is false
// for paths that are not resource paths.
func parsePath(path string) (requestInfo, bool) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	var ri requestInfo
	switch {
	case len(parts) >= 3 && parts[0] == "api":
		ri.Version, parts = parts[1], parts[2:]
	case len(parts) >= 4 && parts[0] == "apis":
		ri.Group, ri.Version, parts = parts[1], parts[2], parts[3:]
	default:
		return ri, false
	}
	// namespaces/{ns}/{resource}/... unless it is the namespaces resource itself.
	if parts[0] == "namespaces" && len(parts) >= 3 {
		ri.Namespace, parts = parts[1], parts[2:]
	}
	ri.Resource = parts[0]
	if len(parts) > 1 {
		ri.Name = parts[1]
	}
	if len(parts) > 2 {
		ri.Subresource = parts[2]
	}
	if len(parts) > 3 {
		return ri, false
	}
	if ri.Resource == "namespaces" && ri.Namespace == "" {
		// /api/v1/namespaces/{name}[/status]: cluster-scoped kind.
		return ri, true
	}
	return ri, true
}

// resolveKind finds the served kind for the path's group and resource.
func (ri *requestInfo) resolveKind() error {
	k, ok := v1alpha1.Lookup(ri.Resource)
	if !ok || k.Plural != ri.Resource || k.Group != ri.Group || k.Version != ri.Version || k.Internal {
		return fmt.Errorf("the server could not find the requested resource %q in %s", ri.Resource, groupVersion(ri.Group, ri.Version))
	}
	if !k.Namespaced && ri.Namespace != "" {
		return fmt.Errorf("%s is cluster-scoped: drop namespaces/%s from the path", k.Plural, ri.Namespace)
	}
	ri.Kind = k
	return nil
}

func groupVersion(g, v string) string {
	if g == "" {
		return v
	}
	return g + "/" + v
}

// verbFor maps an HTTP method to a Kubernetes verb.
func verbFor(r *http.Request, ri requestInfo) string {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if isWatch(r) {
			return auth.VerbWatch
		}
		if ri.Name == "" {
			return auth.VerbList
		}
		return auth.VerbGet
	case http.MethodPost:
		return auth.VerbCreate
	case http.MethodPut:
		return auth.VerbUpdate
	case http.MethodPatch:
		return auth.VerbPatch
	case http.MethodDelete:
		return auth.VerbDelete
	}
	return ""
}

func isWatch(r *http.Request) bool {
	w := r.URL.Query().Get("watch")
	return w == "true" || w == "1"
}
