package server

import (
	"strings"
	"testing"
)

// A user named with 253 characters (the longest name the API takes) who
// creates a namespace becomes its admin: the RoleBinding Kiln makes for
// them, named after them, fits; so does the author label of their Release.
func TestLongUserNameOwnsItsNamespace(t *testing.T) {
	t.Parallel()
	f := testFactory(t, "")
	admin := api{t: t, base: f.URL, token: f.AdminToken, hc: f.HTTPClient()}
	user := strings.Repeat("u", 253)
	long := api{t: t, base: f.URL, token: userToken(t, admin, user), hc: f.HTTPClient()}
	long.must(201, "POST", "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": "team-long"}})
	long.must(201, "POST", nsPath("team-long", "applications"), app("greet"))
	long.must(201, "POST", nsPath("team-long", "releaseplans"), map[string]any{"metadata": map[string]any{"name": "to-prod"},
		"spec": map[string]any{"application": "greet", "target": "managed-prod"}})
	got := long.must(200, "GET", nsPath("team-long", "releaseplans")+"/to-prod", nil).Obj
	if a := str(got, "metadata", "labels", "release.appstudio.openshift.io/author"); len(a) > 63 || !strings.HasPrefix(a, "uuu") {
		t.Errorf("author label %q", a)
	}
}
