package server

import (
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
	_, a := buildFactory(t, Config{PushRegistry: PushRegistry{Registry: host + "/prod", PlainHTTP: true}})
	a.must(201, "POST", nsPath("default", "components"), scriptComponent("hello", url, nil))
	b := waitBuild(t, a, "hello", 1)
	if str(b, "status", "phase") != "Succeeded" || str(b, "status", "artifact", "repository") != host+"/prod/default/hello" {
		t.Fatalf("build: %v", b["status"])
	}
	got, err := oci.Resolve(t.Context(), host+"/prod/default/hello:build-1", oci.Remote{PlainHTTP: true})
	if err != nil || got.Digest != str(b, "status", "artifact", "digest") {
		t.Fatalf("external registry has %v (%v), want %s", got.Digest, err, str(b, "status", "artifact", "digest"))
	}
}
