package server

import (
	"strings"
	"testing"
	"time"
)

// releasePipeline checks what a release pipeline receives; with secret
// set it also reads a Secret of the namespace it runs in.
func releasePipeline(name, check string, secret bool) string {
	env := ""
	if secret {
		env = `
            env:
              - name: TOKEN
                valueFrom:
                  secretKeyRef: {name: prod-token, key: token}`
	}
	return `apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: ` + name + `
spec:
  params:
    - {name: RELEASE, type: string}
    - {name: SNAPSHOT, type: string}
    - {name: RELEASE_DATA, type: string}
  tasks:
    - name: run
      params:
        - {name: release, value: $(params.RELEASE)}
        - {name: snapshot, value: $(params.SNAPSHOT)}
        - {name: data, value: $(params.RELEASE_DATA)}
      taskSpec:
        params: [{name: release}, {name: snapshot}, {name: data}]
        steps:
          - name: run
            image: host` + env + `
            script: |
              set -e
              test -n "$(params.release)"
              echo '$(params.snapshot)' | grep -q '"application":"greet"'
              ` + check + `
`
}

// TestReleasePipelinesSecretsAndRetries: the tenant, managed and final
// pipelines run in the sandbox with the right params; the managed one
// reads the managed namespace's secret, a tenant pipeline asking for the
// same secret cannot have it; a destination that stays unreachable is
// retried, recorded, then fails the Release.
func TestReleasePipelinesSecretsAndRetries(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	_, a := buildFactory(t, Config{})
	pipes, _ := gitRepo(t, map[string]string{
		"tenant.yaml":  releasePipeline("tenant", `echo '$(params.data)' | grep -q '"ticket":"REL-1"'`, false),
		"managed.yaml": releasePipeline("managed", `test "$TOKEN" = s3cret; echo '$(params.data)' | grep -q '"channel":"stable"'`, true),
		"final.yaml":   releasePipeline("final", `echo notified`, false),
		"steal.yaml":   releasePipeline("steal", `echo "$TOKEN"`, true),
	})
	ref := func(path string) map[string]any {
		return map[string]any{"pipelineRef": map[string]any{"resolver": "git", "params": []any{
			map[string]any{"name": "url", "value": pipes}, map[string]any{"name": "pathInRepo", "value": path}}}}
	}
	url, _ := gitRepo(t, map[string]string{"VERSION": "1\n"})
	a.must(201, "POST", nsPath("default", "components"), scriptComponent("hello", url, map[string]any{
		"params": []any{map[string]any{"name": "image", "value": "host"}, map[string]any{"name": "outputs", "value": `["out"]`},
			map[string]any{"name": "script", "value": "mkdir -p out; echo hello > out/greeting.txt"}}}))
	b := waitBuild(t, a, "hello", 1)
	snap := "greet-" + str(b, "metadata", "name")
	waitSnapshotTests(t, a, snap)

	for _, ns := range []string{"prod", "broken"} {
		a.must(201, "POST", "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": ns}, "spec": map[string]any{"type": "managed"}})
		a.must(201, "POST", nsPath(ns, "policies"), map[string]any{"metadata": map[string]any{"name": "release"},
			"spec": map[string]any{"sources": []any{map[string]any{"name": "kiln", "policy": []any{"kiln://rules"},
				"config": map[string]any{"include": []any{"@minimal"}, "exclude": []any{"builder.isolated_steps"}}}}}})
	}
	a.must(201, "POST", "/api/v1/namespaces/prod/secrets", map[string]any{"metadata": map[string]any{"name": "prod-token"},
		"stringData": map[string]any{"token": "s3cret"}})
	a.must(201, "POST", nsPath("prod", "releaseplanadmissions"), map[string]any{"metadata": map[string]any{"name": "greet"},
		"spec": map[string]any{"applications": []any{"greet"}, "origin": "default", "policy": "release", "pipeline": ref("managed.yaml"),
			"data": map[string]any{"channel": "stable"}}})
	a.must(201, "POST", nsPath("broken", "releaseplanadmissions"), map[string]any{"metadata": map[string]any{"name": "greet"},
		"spec": map[string]any{"applications": []any{"greet"}, "origin": "default", "policy": "release",
			"pipeline": map[string]any{"pipelineRef": map[string]any{"resolver": "catalog", "params": []any{map[string]any{"name": "name", "value": "push-to-registry"}}}},
			"data":     map[string]any{"mapping": map[string]any{"defaults": map[string]any{"repository": "127.0.0.1:1/prod/{{ component }}", "tags": []any{"latest"}}}}}})
	plan := func(name, target string, tenant, final map[string]any) {
		spec := map[string]any{"application": "greet", "target": target, "data": map[string]any{"ticket": "REL-1", "channel": "overridden-by-the-admission"}}
		if tenant != nil {
			spec["tenantPipeline"] = tenant
		}
		if final != nil {
			spec["finalPipeline"] = final
		}
		a.must(201, "POST", nsPath("default", "releaseplans"), map[string]any{"metadata": map[string]any{"name": name,
			"labels": map[string]any{"release.appstudio.openshift.io/auto-release": "false"}}, "spec": spec})
	}
	plan("full", "prod", ref("tenant.yaml"), ref("final.yaml"))
	plan("steal", "prod", ref("steal.yaml"), nil)
	plan("unreachable", "broken", nil, nil)
	release := func(name, plan string) map[string]any {
		a.must(201, "POST", nsPath("default", "releases"), map[string]any{"metadata": map[string]any{"name": name},
			"spec": map[string]any{"snapshot": snap, "releasePlan": plan}})
		return waitRelease(t, a, name)
	}

	r := release("full", "full")
	if str(r, "status", "phase") != "Succeeded" {
		t.Fatalf("full release: %v", r["status"])
	}
	var roles []string
	for _, p := range r["status"].(map[string]any)["pipelines"].([]any) {
		m := p.(map[string]any)
		roles = append(roles, m["role"].(string)+"@"+m["namespace"].(string)+"="+m["status"].(string))
	}
	if strings.Join(roles, ",") != "tenant@default=Succeeded,managed@prod=Succeeded,final@default=Succeeded" {
		t.Fatalf("pipelines: %v", roles)
	}
	for _, c := range []string{"Validated", "TenantPipelineProcessed", "PolicyPassed", "ManagedPipelineProcessed", "FinalPipelineProcessed", "Released"} {
		if cond(r, c)["status"] != "True" {
			t.Fatalf("condition %s: %v", c, cond(r, c))
		}
	}

	r = release("steal", "steal")
	if c := cond(r, "TenantPipelineProcessed"); c["status"] != "False" || !strings.Contains(c["message"].(string), "prod-token") {
		t.Fatalf("a tenant pipeline read the managed namespace's secret, or failed for another reason: %v", r["status"])
	}

	start := time.Now()
	r = release("unreachable", "unreachable")
	retries, _ := r["status"].(map[string]any)["retries"].([]any)
	if str(r, "status", "phase") != "Failed" || len(retries) != 3 || cond(r, "ManagedPipelineProcessed")["status"] != "False" {
		t.Fatalf("unreachable destination: %v", r["status"])
	}
	if took := time.Since(start); took < 6*time.Second {
		t.Fatalf("3 retries with backoff took only %v", took)
	}
	// Every attempt is a recorded run: three retried, the last failed.
	pipelines, _ := r["status"].(map[string]any)["pipelines"].([]any)
	managed := 0
	for _, p := range pipelines {
		p := p.(map[string]any)
		if p["role"] == "managed" {
			managed++
			if p["status"] != "Failed" || p["completionTime"] == nil {
				t.Errorf("managed attempt recorded as %v", p)
			}
		}
	}
	if managed != 4 {
		t.Fatalf("%d managed runs recorded, want 4 (3 retries and the last attempt): %v", managed, pipelines)
	}
}
