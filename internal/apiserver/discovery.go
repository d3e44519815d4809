package apiserver

import (
	"net/http"
	"runtime"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

func (s *Server) serveVersion(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{
		"major": "1", "minor": "32", "gitVersion": s.version, "goVersion": runtime.Version(),
		"platform": runtime.GOOS + "/" + runtime.GOARCH, "kiln": s.version,
	})
}

func (s *Server) serveCoreVersions(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, metav1.APIVersions{
		TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"},
		ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{{ClientCIDR: "0.0.0.0/0", ServerAddress: ""}},
	})
}

// groups returns the served API groups other than core, sorted.
func groups() []metav1.APIGroup {
	seen := map[string]bool{}
	var out []metav1.APIGroup
	for _, k := range v1alpha1.Kinds() {
		if k.Group == "" || k.Internal || seen[k.Group] {
			continue
		}
		seen[k.Group] = true
		gv := metav1.GroupVersionForDiscovery{GroupVersion: k.APIVersion(), Version: k.Version}
		out = append(out, metav1.APIGroup{Name: k.Group, Versions: []metav1.GroupVersionForDiscovery{gv}, PreferredVersion: gv})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (s *Server) serveGroups(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, metav1.APIGroupList{
		TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}, Groups: groups(),
	})
}

// resourceList describes the kinds of one group/version.
func resourceList(group, version string) (*metav1.APIResourceList, bool) {
	list := &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
		GroupVersion: groupVersion(group, version)}
	for _, k := range v1alpha1.Kinds() {
		if k.Group != group || k.Version != version || k.Internal {
			continue
		}
		verbs := metav1.Verbs{"create", "delete", "get", "list", "patch", "update", "watch"}
		list.APIResources = append(list.APIResources, metav1.APIResource{
			Name: k.Plural, SingularName: k.Singular, Namespaced: k.Namespaced, Kind: k.Kind,
			Verbs: verbs, ShortNames: k.ShortNames, Categories: []string{"kiln"},
		})
		if k.HasStatus {
			list.APIResources = append(list.APIResources, metav1.APIResource{
				Name: k.Plural + "/status", Namespaced: k.Namespaced, Kind: k.Kind,
				Verbs: metav1.Verbs{"get", "patch", "update"},
			})
		}
		if k.Kind == "Release" || k.Kind == "Snapshot" {
			list.APIResources = append(list.APIResources, metav1.APIResource{
				Name: k.Plural + "/log", Namespaced: true, Kind: k.Kind, Verbs: metav1.Verbs{"get"}})
		}
		if k.Kind == "Build" {
			for _, sub := range []string{"log", "provenance", "sbom"} {
				list.APIResources = append(list.APIResources, metav1.APIResource{
					Name: k.Plural + "/" + sub, Namespaced: true, Kind: k.Kind, Verbs: metav1.Verbs{"get"}})
			}
		}
	}
	return list, len(list.APIResources) > 0
}

// serveDiscovery answers /api/v1 and /apis/GROUP[/VERSION].
func (s *Server) serveDiscovery(w http.ResponseWriter, r *http.Request, group, version string) {
	if version == "" {
		for _, g := range groups() {
			if g.Name == group {
				writeJSON(w, http.StatusOK, g)
				return
			}
		}
		s.writeError(w, r, notFound("no API group "+group))
		return
	}
	list, ok := resourceList(group, version)
	if !ok {
		s.writeError(w, r, notFound("no API group/version "+groupVersion(group, version)))
		return
	}
	writeJSON(w, http.StatusOK, list)
}
