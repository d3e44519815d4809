package oci

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
)

// route is what the registry learns from a request path before handing it
// to distribution.
type route struct {
	kind      routeKind
	repo      string // repository name, e.g. team-a/app
	namespace string // its first component, the Kiln namespace
	ref       string // tag or digest (manifests, referrers)
	action    Action
}

type routeKind int

const (
	routeOther routeKind = iota
	routeBase
	routeCatalog
	routeManifest
	routeReferrers
	routeBlob
	routeUpload
	routeTags
)

// component is one path component of a repository name (distribution spec).
const component = `[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`

var (
	repoPath = `/v2/(` + component + `(?:/` + component + `)*)`
	routes   = []struct {
		kind routeKind
		re   *regexp.Regexp
	}{
		{routeTags, regexp.MustCompile(`^` + repoPath + `/tags/list$`)},
		{routeManifest, regexp.MustCompile(`^` + repoPath + `/manifests/([^/]+)$`)},
		{routeReferrers, regexp.MustCompile(`^` + repoPath + `/referrers/([^/]+)$`)},
		{routeUpload, regexp.MustCompile(`^` + repoPath + `/blobs/uploads/?([^/]*)$`)},
		{routeBlob, regexp.MustCompile(`^` + repoPath + `/blobs/([^/]+)$`)},
	}
	repoName = regexp.MustCompile(`^` + component + `(?:/` + component + `)*$`)
)

// parseRoute classifies a request. Repository routes need a repository of
// at least two components: <namespace>/<component>[/...].
func parseRoute(method, path string) route {
	switch path {
	case "/v2", "/v2/":
		return route{kind: routeBase, action: ActionLogin}
	case "/v2/_catalog":
		return route{kind: routeCatalog, action: ActionCatalog}
	}
	for _, rt := range routes {
		m := rt.re.FindStringSubmatch(path)
		if m == nil {
			continue
		}
		r := route{kind: rt.kind, repo: m[1], action: actionFor(method)}
		if len(m) > 2 {
			r.ref = m[2]
		}
		r.namespace, _ = namespaceOf(r.repo)
		return r
	}
	return route{kind: routeOther}
}

func actionFor(method string) Action {
	switch method {
	case http.MethodGet, http.MethodHead:
		return ActionPull
	case http.MethodDelete:
		return ActionDelete
	}
	return ActionPush
}

// namespaceOf returns the Kiln namespace of a repository name.
func namespaceOf(repo string) (string, bool) {
	ns, rest, ok := strings.Cut(repo, "/")
	if !ok || rest == "" || !repoName.MatchString(repo) {
		return "", false
	}
	return ns, true
}

// ServeHTTP authorises the request, answers the referrers API itself and
// hands everything else to distribution (recording manifests with a subject
// on the way).
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	rt := parseRoute(req.Method, req.URL.Path)
	if rt.kind == routeOther {
		writeRegistryError(w, http.StatusNotFound, "NAME_INVALID", "not a registry API path: "+req.URL.Path)
		return
	}
	if rt.repo != "" && rt.namespace == "" {
		writeRegistryError(w, http.StatusForbidden, "DENIED",
			"repository "+rt.repo+" is outside every namespace: push to <namespace>/<name>")
		return
	}
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		// Held from the authorisation on: DeleteNamespace cannot run
		// between a write's check and the write itself.
		r.writes.RLock()
		defer r.writes.RUnlock()
	}
	if !r.authorize(w, req, rt) {
		return
	}
	switch {
	case rt.kind == routeReferrers && (req.Method == http.MethodGet || req.Method == http.MethodHead):
		r.serveReferrers(w, req, rt)
	case rt.kind == routeManifest && (req.Method == http.MethodPut || req.Method == http.MethodDelete):
		r.serveManifestWrite(w, req, rt)
	case rt.kind == routeUpload && req.Method == http.MethodPost:
		r.guardMount(req, bearerOrBasic(req.Header.Get("Authorization")))
		r.next.ServeHTTP(w, req)
	default:
		r.next.ServeHTTP(w, req)
	}
}

// writeRegistryError writes an error in the distribution spec's format.
func writeRegistryError(w http.ResponseWriter, status int, code, msg string) {
	body, _ := json.Marshal(map[string]any{
		"errors": []map[string]string{{"code": code, "message": msg}},
	})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
