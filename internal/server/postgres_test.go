package server

import (
	"context"
	"os"
	"testing"

	"github.com/kilnbuild/kiln/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestPostgresBackendEndToEnd runs the factory on a real PostgreSQL server
// (`kiln up --database postgres://…`) through the same API flows as SQLite:
// create with references, conflicts, watch resume, cascade, and a restart.
func TestPostgresBackendEndToEnd(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Start(t)
	dir := t.TempDir()
	f, err := Start(context.Background(), Config{DataDir: dir, Listen: "127.0.0.1:0", Database: dsn, Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	a := api{t: t, base: f.URL, token: f.AdminToken, hc: f.HTTPClient()}
	a.must(201, "POST", "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": "team-a"}})
	a.must(201, "POST", nsPath("team-a", "applications"), app("greet"))
	c := a.must(201, "POST", nsPath("team-a", "components"), component("cli", "greet")).Obj
	a.must(422, "POST", nsPath("team-a", "components"), component("x", "nope"))
	c["spec"].(map[string]any)["source"].(map[string]any)["git"].(map[string]any)["revision"] = "dev"
	a.must(200, "PUT", nsPath("team-a", "components")+"/cli", c)
	a.must(409, "PUT", nsPath("team-a", "components")+"/cli", c)
	sel := a.must(200, "GET", nsPath("team-a", "components")+"?fieldSelector=spec.application%3Dgreet", nil)
	if len(sel.Obj["items"].([]any)) != 1 {
		t.Fatalf("field selector: %s", sel.Body)
	}
	if err := f.Stop(); err != nil {
		t.Fatal(err)
	}
	f2, err := Start(context.Background(), Config{DataDir: dir, Listen: "127.0.0.1:0", Database: dsn, Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f2.Stop() })
	a2 := api{t: t, base: f2.URL, token: f2.AdminToken, hc: f2.HTTPClient()}
	got := a2.must(200, "GET", nsPath("team-a", "components")+"/cli", nil).Obj
	if str(got, "spec", "source", "git", "revision") != "dev" || str(got, "metadata", "generation") != "2" {
		t.Fatalf("state lost across restart on PostgreSQL: %v", got)
	}
	a2.must(200, "DELETE", nsPath("team-a", "applications")+"/greet", nil)
	eventually(t, "cascade on PostgreSQL", func() bool {
		return a2.do("GET", nsPath("team-a", "components")+"/cli", nil).Code == 404
	})
}
