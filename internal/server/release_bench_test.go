package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
)

// BenchmarkRelease10 measures one Release of a 10-component Snapshot,
// from `kiln release` (create) to Succeeded: validation, verifying every
// artifact's signature, provenance and SBOM against the builder key,
// evaluating the shipped slsa3 rules, then copying each artifact with its
// signature, attestations and SBOM to a production registry under three
// tags and re-signing it with the managed namespace's key. The artifacts
// come from 10 real sandboxed builds (setup, not timed); each iteration
// releases into fresh repositories so nothing is skipped.
//
//	go test ./internal/server -run '^$' -bench Release10 -benchtime 20x
func BenchmarkRelease10(b *testing.B) {
	requireSandboxB(b)
	prod := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	defer prod.Close()
	prodHost := strings.TrimPrefix(prod.URL, "http://")
	_, a := benchFactory(b)
	snap := benchSnapshot(b, a, 10)
	benchManagedNamespace(b, a)
	var took []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		plan := fmt.Sprintf("p%d", i)
		a.must(201, "POST", nsPath("default", "releaseplans"), map[string]any{"metadata": map[string]any{"name": plan,
			"labels": map[string]any{"release.appstudio.openshift.io/auto-release": "false"}},
			"spec": map[string]any{"application": "greet", "target": "prod", "data": map[string]any{"mapping": map[string]any{"defaults": map[string]any{
				"repository": fmt.Sprintf("%s/prod/i%d/{{ component }}", prodHost, i), "tags": []any{"{{ git_sha }}", "build-{{ build_counter }}", "latest"}}}}}})
		b.StartTimer()
		start := time.Now()
		name := "r" + plan
		a.must(201, "POST", nsPath("default", "releases"), map[string]any{"metadata": map[string]any{"name": name},
			"spec": map[string]any{"snapshot": snap, "releasePlan": plan}})
		var phase string
		for phase != "Succeeded" && phase != "Failed" {
			time.Sleep(2 * time.Millisecond)
			phase = str(a.do("GET", nsPath("default", "releases")+"/"+name, nil).Obj, "status", "phase")
		}
		took = append(took, time.Since(start))
		if phase != "Succeeded" {
			b.Fatalf("release %s: %s", name, a.do("GET", nsPath("default", "releases")+"/"+name, nil).Body)
		}
	}
	b.StopTimer()
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	b.ReportMetric(float64(took[len(took)/2].Milliseconds()), "median-ms")
	b.ReportMetric(float64(took[len(took)-1].Milliseconds()), "max-ms")
}

func requireSandboxB(b *testing.B) {
	if _, err := exec.LookPath("bwrap"); err != nil {
		b.Skip("bubblewrap is not installed")
	}
}

func benchFactory(b *testing.B) (*Factory, api) {
	cfg := Config{DataDir: b.TempDir(), Listen: "127.0.0.1:0", Log: quietLog(), AllowFileSources: true, RegistryNoSync: true}
	f, err := Start(b.Context(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = f.Stop() })
	a := api{t: b, base: f.URL, token: f.AdminToken, hc: f.HTTPClient()}
	a.must(201, "POST", nsPath("default", "applications"), app("greet"))
	return f, a
}

// benchSnapshot builds n real components and returns an override Snapshot
// of all their artifacts, tested (no scenario applies).
func benchSnapshot(b *testing.B, a api, n int) string {
	var comps []any
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("c%d", i)
		url, _ := gitRepo(b, map[string]string{"VERSION": name + "\n"})
		a.must(201, "POST", nsPath("default", "components"), scriptComponent(name, url, map[string]any{
			"params": []any{map[string]any{"name": "image", "value": "host"}, map[string]any{"name": "outputs", "value": `["out"]`},
				map[string]any{"name": "script", "value": "mkdir -p out; cp VERSION out/; head -c 65536 /dev/urandom > out/blob"}}}))
		bl := waitBuild(b, a, name, 1)
		comps = append(comps, map[string]any{"name": name,
			"containerImage": str(bl, "status", "artifact", "repository") + "@" + str(bl, "status", "artifact", "digest"),
			"source":         map[string]any{"git": map[string]any{"url": url, "revision": str(bl, "status", "commit")}}})
	}
	a.must(201, "POST", nsPath("default", "snapshots"), map[string]any{"metadata": map[string]any{"name": "bench"},
		"spec": map[string]any{"application": "greet", "components": comps}})
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		s := a.do("GET", nsPath("default", "snapshots")+"/bench", nil).Obj
		if cond(s, "TestsPassed")["status"] == "True" {
			return "bench"
		}
		if time.Now().After(deadline) {
			b.Fatalf("snapshot never tested: %v", s["status"])
		}
	}
}

func benchManagedNamespace(b *testing.B, a api) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalECPrivateKey(key)
	a.must(201, "POST", "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": "prod"}, "spec": map[string]any{"type": "managed"}})
	a.must(201, "POST", "/api/v1/namespaces/prod/secrets", map[string]any{"metadata": map[string]any{"name": "release-key"},
		"stringData": map[string]any{"cosign.key": string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))}})
	a.must(201, "POST", nsPath("prod", "policies"), map[string]any{"metadata": map[string]any{"name": "release"},
		"spec": map[string]any{"sources": []any{map[string]any{"name": "kiln", "policy": []any{"kiln://rules"},
			"config": map[string]any{"include": []any{"@slsa3"}, "exclude": []any{"builder.isolated_steps"}}}}}})
	a.must(201, "POST", nsPath("prod", "releaseplanadmissions"), map[string]any{"metadata": map[string]any{"name": "greet"},
		"spec": map[string]any{"applications": []any{"greet"}, "origin": "default", "policy": "release",
			"pipeline": map[string]any{"pipelineRef": map[string]any{"resolver": "catalog", "params": []any{map[string]any{"name": "name", "value": "push-to-registry"}}}},
			"data":     map[string]any{"registry": map[string]any{"plainHTTP": true}, "signing": map[string]any{"secret": "release-key"}}}})
}
