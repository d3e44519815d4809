package apiserver_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/apiserver/apitest"
)

var merge = []string{"Content-Type", "application/merge-patch+json"}

// tenants starts the API with alice, admin of tenant namespace team-a, and
// bob, admin of team-b holding application greet and component cli.
func tenants(t *testing.T) (env *apitest.Env, admin, alice, bob apitest.Client) {
	t.Helper()
	env = apitest.Start(t)
	admin = env.Admin(t)
	alice = env.As(t, env.UserToken(t, "alice"))
	bob = env.As(t, env.UserToken(t, "bob"))
	alice.Must(201, "POST", "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": "team-a"}})
	bob.Must(201, "POST", "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": "team-b"}})
	bob.Must(201, "POST", nsPath("team-b", "applications"), app("greet"))
	bob.Must(201, "POST", nsPath("team-b", "components"), component("cli", "greet"))
	return env, admin, alice, bob
}

func TestRoles(t *testing.T) {
	t.Parallel()
	_, admin, alice, bob := tenants(t)
	// bob makes alice a viewer of team-b: reads work, writes do not, secrets stay hidden.
	bob.Must(201, "POST", nsPath("team-b", "rolebindings"), map[string]any{"metadata": map[string]any{"name": "alice-views"},
		"spec": map[string]any{"role": "viewer", "subjects": []any{map[string]any{"kind": "User", "name": "alice"}}}})
	alice.Must(200, "GET", nsPath("team-b", "components")+"/cli", nil)
	alice.Must(403, "POST", nsPath("team-b", "applications"), app("nope"))
	alice.Must(403, "DELETE", nsPath("team-b", "components")+"/cli", nil)
	// maintainer: content yes, access control and the gate no.
	bob.Must(200, "PATCH", nsPath("team-b", "rolebindings")+"/alice-views", `{"spec":{"role":"maintainer"}}`, merge...)
	alice.Must(201, "POST", nsPath("team-b", "applications"), app("yes"))
	alice.Must(403, "POST", nsPath("team-b", "rolebindings"), map[string]any{"metadata": map[string]any{"name": "escalate"},
		"spec": map[string]any{"role": "admin", "subjects": []any{map[string]any{"kind": "User", "name": "alice"}}}})
	// Status is written only by the system, even by namespace admins.
	bob.Must(403, "PATCH", nsPath("team-b", "components")+"/cli/status", `{"status":{"lastBuiltCommit":"x"}}`, merge...)
	// Managed namespaces are created by cluster admins only; releaser exists only there.
	bob.Must(403, "POST", "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": "prod"}, "spec": map[string]any{"type": "managed"}})
	admin.Must(201, "POST", "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": "prod"}, "spec": map[string]any{"type": "managed"}})
	releaser := map[string]any{"metadata": map[string]any{"name": "rel"}, "spec": map[string]any{"role": "releaser", "subjects": []any{map[string]any{"kind": "User", "name": "bob"}}}}
	admin.Must(400, "POST", nsPath("team-b", "rolebindings"), releaser)
	admin.Must(201, "POST", nsPath("prod", "rolebindings"), releaser)
	bob.Must(403, "GET", "/api/v1/namespaces/prod/secrets", nil)
	bob.Must(403, "POST", "/api/v1/namespaces/prod/secrets", map[string]any{"metadata": map[string]any{"name": "s"}})
}

func TestRevokedTokenStopsWorking(t *testing.T) {
	t.Parallel()
	env, admin, alice, _ := tenants(t)
	r := alice.Must(201, "POST", kiln+"/tokenrequests", map[string]any{"description": "ci"})
	extra := env.As(t, str(r.Obj, "token"))
	extra.Must(200, "GET", nsPath("team-a", "applications"), nil)
	admin.Must(200, "DELETE", kiln+"/tokens/"+str(r.Obj, "name"), nil)
	deadline := time.Now().Add(5 * time.Second)
	for extra.Do("GET", nsPath("team-a", "applications"), nil).Code != 401 {
		if time.Now().After(deadline) {
			t.Fatal("a revoked token still works after 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPatchCannotBypassAdmission: the rules that depend on who asks apply
// to patches too — a tenant cannot make its namespace managed, nor bind
// the releaser role in a tenant namespace, by patching.
func TestPatchCannotBypassAdmission(t *testing.T) {
	t.Parallel()
	_, admin, alice, _ := tenants(t)
	alice.Must(403, "PATCH", "/api/v1/namespaces/team-a", map[string]any{"spec": map[string]any{"type": "managed"}}, merge...)
	if got := str(alice.Must(200, "GET", "/api/v1/namespaces/team-a", nil).Obj, "spec", "type"); got == "managed" {
		t.Fatal("the namespace became managed")
	}
	alice.Must(201, "POST", nsPath("team-a", "rolebindings"), map[string]any{"metadata": map[string]any{"name": "rb"},
		"spec": map[string]any{"role": "viewer", "subjects": []any{map[string]any{"kind": "User", "name": "bob"}}}})
	alice.Must(400, "PATCH", nsPath("team-a", "rolebindings")+"/rb", map[string]any{"spec": map[string]any{"role": "releaser"}}, merge...)
	// A cluster admin may; and a managed namespace stays patchable.
	admin.Must(200, "PATCH", "/api/v1/namespaces/team-a", map[string]any{"spec": map[string]any{"type": "managed"}}, merge...)
	admin.Must(200, "PATCH", "/api/v1/namespaces/team-a", map[string]any{"metadata": map[string]any{"labels": map[string]any{"x": "y"}}}, merge...)
}

// A user named with 253 characters (the longest name the API takes) who
// creates a namespace becomes its admin: the RoleBinding Kiln makes for
// them, named after them, fits; so does the author label of their
// ReleasePlan.
func TestLongUserNameOwnsItsNamespace(t *testing.T) {
	t.Parallel()
	env := apitest.Start(t)
	long := env.As(t, env.UserToken(t, strings.Repeat("u", 253)))
	long.Must(201, "POST", "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": "team-long"}})
	long.Must(201, "POST", nsPath("team-long", "applications"), app("greet"))
	long.Must(201, "POST", nsPath("team-long", "releaseplans"), map[string]any{"metadata": map[string]any{"name": "to-prod"},
		"spec": map[string]any{"application": "greet", "target": "managed-prod"}})
	got := long.Must(200, "GET", nsPath("team-long", "releaseplans")+"/to-prod", nil).Obj
	if a := str(got, "metadata", "labels", "release.appstudio.openshift.io/author"); len(a) > 63 || !strings.HasPrefix(a, "uuu") {
		t.Errorf("author label %q", a)
	}
}
