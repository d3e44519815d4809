package oci

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzParseRoute: the namespace every authorisation decision is made for
// is exactly the first component of a valid repository name that the path
// names after /v2/; anything else is not a repository route.
func FuzzParseRoute(f *testing.F) {
	for _, p := range []string{"/v2/", "/v2/_catalog", "/v2/team-a/app/manifests/v1", "/v2/team-a/app/blobs/uploads/",
		"/v2/team-a/app/blobs/uploads/uuid", "/v2/a/b/c/tags/list", "/v2/app/manifests/x", "/v2/team-a/../team-b/app/manifests/x",
		"/v2/Team-A/app/blobs/sha256:00", "/v2/team-a/app/referrers/sha256:00", "/v2/team-a//app/manifests/x"} {
		f.Add(http.MethodGet, p)
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		rt := parseRoute(method, path)
		switch rt.kind {
		case routeOther, routeBase, routeCatalog:
			if rt.repo != "" || rt.namespace != "" {
				t.Fatalf("%q: a non-repository route names repository %q", path, rt.repo)
			}
			return
		}
		if !strings.HasPrefix(path, "/v2/"+rt.repo+"/") || !repoName.MatchString(rt.repo) {
			t.Fatalf("%q: repository %q is not a valid name the path starts with", path, rt.repo)
		}
		first, rest, many := strings.Cut(rt.repo, "/")
		if (many && rest != "" && rt.namespace != first) || (!many && rt.namespace != "") {
			t.Fatalf("%q: repository %q gives namespace %q", path, rt.repo, rt.namespace)
		}
		if rt.action != actionFor(method) {
			t.Fatalf("%q %s: action %v", path, method, rt.action)
		}
	})
}
