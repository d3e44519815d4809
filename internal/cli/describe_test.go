package cli

import (
	"testing"
)

func TestDescribe(t *testing.T) {
	srv := seeded(t)
	c := comp("a", "full", "shop")
	c["metadata"].(map[string]any)["labels"] = map[string]any{"app": "shop", "tier": "web"}
	c["metadata"].(map[string]any)["annotations"] = map[string]any{"note": "hi"}
	c["metadata"].(map[string]any)["finalizers"] = []any{"kiln.dev/cleanup"}
	c["metadata"].(map[string]any)["ownerReferences"] = []any{map[string]any{
		"apiVersion": "kiln.dev/v1alpha1", "kind": "Application", "name": "shop", "uid": "u1", "controller": true}}
	srv.Seed("components", c)
	// status is written through the status subresource, like a controller
	stored := srv.Object("components", "a", "full")
	stored["status"] = map[string]any{
		"observedGeneration": 1,
		"image":              "registry.example/full@sha256:abc",
		"conditions": []any{
			map[string]any{"type": "Ready", "status": "False", "reason": "Building",
				"lastTransitionTime": "2026-01-02T04:00:05Z", "message": "build 3 running"},
			map[string]any{"type": "Valid", "status": "True", "reason": "OK",
				"lastTransitionTime": "2026-01-02T03:04:05Z", "message": ""},
		}}
	putStatus(t, srv, stored)
	checkGolden(t, "describe_component", kiln(t, srv, "", "describe", "component", "full", "-n", "a").must(t).out)
	checkGolden(t, "describe_plain", kiln(t, srv, "", "describe", "comp/web", "-n", "a").must(t).out)
}

func TestDescribeSecretHidesValues(t *testing.T) {
	srv := seeded(t)
	srv.Seed("secrets", obj("v1", "Secret", "a", "creds", map[string]any{
		"type": "Opaque", "data": map[string]any{"token": "czNjcmV0"}})) // s3cret
	checkGolden(t, "describe_secret", kiln(t, srv, "", "describe", "secret", "creds", "-n", "a").must(t).out)
}
