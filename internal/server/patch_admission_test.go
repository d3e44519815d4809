package server

import "testing"

// TestPatchCannotBypassAdmission: the rules that depend on who asks apply
// to patches too — a tenant cannot make its namespace managed, nor bind
// the releaser role in a tenant namespace, by patching.
func TestPatchCannotBypassAdmission(t *testing.T) {
	t.Parallel()
	_, admin, alice, _ := tenants(t)
	merge := []string{"Content-Type", "application/merge-patch+json"}
	alice.must(403, "PATCH", "/api/v1/namespaces/team-a", map[string]any{"spec": map[string]any{"type": "managed"}}, merge...)
	if got := str(alice.must(200, "GET", "/api/v1/namespaces/team-a", nil).Obj, "spec", "type"); got == "managed" {
		t.Fatal("the namespace became managed")
	}
	alice.must(201, "POST", nsPath("team-a", "rolebindings"), map[string]any{"metadata": map[string]any{"name": "rb"},
		"spec": map[string]any{"role": "viewer", "subjects": []any{map[string]any{"kind": "User", "name": "bob"}}}})
	alice.must(400, "PATCH", nsPath("team-a", "rolebindings")+"/rb", map[string]any{"spec": map[string]any{"role": "releaser"}}, merge...)
	// A cluster admin may; and a managed namespace stays patchable.
	admin.must(200, "PATCH", "/api/v1/namespaces/team-a", map[string]any{"spec": map[string]any{"type": "managed"}}, merge...)
	admin.must(200, "PATCH", "/api/v1/namespaces/team-a", map[string]any{"metadata": map[string]any{"labels": map[string]any{"x": "y"}}}, merge...)
}
