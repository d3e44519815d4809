package server

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"

	"github.com/kilnbuild/kiln/internal/oci"
)

// TestBuildsPushToAnExternalRegistry configures another registry (a second,
// independent registry implementation) as the push target.
func TestBuildsPushToAnExternalRegistry(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	ext := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(ext.Close)
	host := strings.TrimPrefix(ext.URL, "http://")
	url, _ := gitRepo(t, map[string]string{"Makefile": makefile, "VERSION": "3\n"})
	f, err := Start(context.Background(), Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Log: quietLog(),
		AllowFileSources: true, RegistryNoSync: true, PushRegistry: PushRegistry{Registry: host + "/prod", PlainHTTP: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Stop() })
	a := api{t: t, base: f.URL, token: f.AdminToken, hc: f.HTTPClient()}
	a.must(201, "POST", nsPath("default", "applications"), app("greet"))
	comp := component("hello", "greet")
	comp["spec"].(map[string]any)["source"].(map[string]any)["git"].(map[string]any)["url"] = url
	comp["spec"].(map[string]any)["build"] = map[string]any{"pipelineRef": "script", "pollInterval": "0s",
		"params": []any{map[string]any{"name": "image", "value": "host"}, map[string]any{"name": "outputs", "value": `["out"]`}}}
	a.must(201, "POST", nsPath("default", "components"), comp)
	b := waitBuild(t, a, "hello", 1)
	if str(b, "status", "phase") != "Succeeded" || str(b, "status", "artifact", "repository") != host+"/prod/default/hello" {
		t.Fatalf("build: %v", b["status"])
	}
	got, err := oci.Resolve(t.Context(), host+"/prod/default/hello:build-1", oci.Remote{PlainHTTP: true})
	if err != nil || got.Digest != str(b, "status", "artifact", "digest") {
		t.Fatalf("external registry has %v (%v), want %s", got.Digest, err, str(b, "status", "artifact", "digest"))
	}
}
