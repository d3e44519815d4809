package server

import (
	"path/filepath"
	"testing"

	"github.com/kilnbuild/kiln/internal/apiserver/apitest"
	"github.com/kilnbuild/kiln/internal/client"
)

func setup(t *testing.T) (*Factory, api) {
	t.Helper()
	f := testFactory(t, "")
	a := api{t: t, base: f.URL, token: f.AdminToken, hc: f.HTTPClient()}
	a.must(201, "POST", "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": "team-a"}})
	return f, a
}

func app(name string) map[string]any { return apitest.App(name) }

func component(name, app string) map[string]any { return apitest.Component(name, app) }

func TestBootstrapWritesClientConfigAndSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f, err := Start(t.Context(), Config{DataDir: dir, Listen: "127.0.0.1:0", Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := client.LoadConfig(filepath.Join(dir, ClientConfigName))
	if err != nil || cfg.Token != f.AdminToken || cfg.Server != f.URL || cfg.Namespace != "default" {
		t.Fatalf("client config = %+v, %v", cfg, err)
	}
	a := api{t: t, base: f.URL, token: f.AdminToken, hc: f.HTTPClient()}
	created := a.must(201, "POST", nsPath("default", "applications"), app("keep"))
	if err := f.Stop(); err != nil {
		t.Fatal(err)
	}
	f2 := testFactory(t, dir)
	if f2.AdminToken != f.AdminToken {
		t.Fatal("restart issued a new admin token instead of reusing the configured one")
	}
	a2 := api{t: t, base: f2.URL, token: f2.AdminToken, hc: f2.HTTPClient()}
	got := a2.must(200, "GET", nsPath("default", "applications")+"/keep", nil)
	if str(got.Obj, "metadata", "uid") != str(created.Obj, "metadata", "uid") {
		t.Fatal("object changed across restart")
	}
	next := a2.must(201, "POST", nsPath("default", "applications"), app("after"))
	if rvOf(next.Obj) <= rvOf(created.Obj) {
		t.Fatalf("resourceVersion went backwards after restart: %d <= %d", rvOf(next.Obj), rvOf(created.Obj))
	}
}

var rvOf = apitest.RV

// TestCascadingDelete: the garbage collector deletes the components of a
// deleted application. (Finalizers are apiserver's tests.)
func TestCascadingDelete(t *testing.T) {
	t.Parallel()
	_, a := setup(t)
	a.must(201, "POST", nsPath("team-a", "applications"), app("greet"))
	a.must(201, "POST", nsPath("team-a", "components"), component("cli", "greet"))
	a.must(200, "DELETE", nsPath("team-a", "applications")+"/greet", nil)
	eventually(t, "components deleted with their application", func() bool {
		return a.do("GET", nsPath("team-a", "components")+"/cli", nil).Code == 404
	})
}

func TestNamespaceDeletionEmptiesIt(t *testing.T) {
	t.Parallel()
	_, a := setup(t)
	a.must(201, "POST", nsPath("team-a", "applications"), app("greet"))
	a.must(200, "DELETE", "/api/v1/namespaces/team-a", nil)
	r := a.do("POST", nsPath("team-a", "applications"), app("late"))
	if r.Code != 403 && r.Code != 404 {
		t.Fatalf("create in terminating namespace: %d %s", r.Code, r.Body)
	}
	eventually(t, "namespace removed after emptying", func() bool {
		return a.do("GET", "/api/v1/namespaces/team-a", nil).Code == 404
	})
	a.must(404, "GET", nsPath("team-a", "applications")+"/greet", nil)
}
