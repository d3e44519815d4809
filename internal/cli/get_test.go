package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/internal/client"
	"github.com/kilnbuild/kiln/internal/client/clienttest"
	"github.com/kilnbuild/kiln/internal/syncbuf"
)

func seeded(t *testing.T) *clienttest.Server {
	isolate(t)
	srv := clienttest.New(t)
	srv.Seed("components", comp("a", "web", "shop"), comp("a", "api", "shop"), comp("b", "blog", "news"))
	srv.Seed("applications", obj("kiln.dev/v1alpha1", "Application", "a", "shop", map[string]any{
		"spec": map[string]any{"displayName": "The Shop"}}))
	return srv
}

func TestGetTable(t *testing.T) {
	srv := seeded(t)
	checkGolden(t, "get_table", kiln(t, srv, "", "get", "components", "-n", "a").must(t).out)
	checkGolden(t, "get_wide", kiln(t, srv, "", "get", "comp", "-n", "a", "-o", "wide").must(t).out)
	checkGolden(t, "get_all_namespaces", kiln(t, srv, "", "get", "Component", "-A").must(t).out)
	checkGolden(t, "get_two_types", kiln(t, srv, "", "get", "applications,components", "-n", "a").must(t).out)
	checkGolden(t, "get_named", kiln(t, srv, "", "get", "components.kiln.dev", "web", "api", "-n", "a", "--no-headers").must(t).out)
	checkGolden(t, "get_selector", kiln(t, srv, "", "get", "comp", "-A", "-l", "app!=nothing", "--field-selector", "spec.application=news").must(t).out)
}

func TestGetFallsBackToNameAge(t *testing.T) {
	srv := seeded(t)
	srv.SetNoTables(true)
	checkGolden(t, "get_fallback", kiln(t, srv, "", "get", "components", "-n", "a").must(t).out)
}

func TestGetYAMLJSONName(t *testing.T) {
	srv := seeded(t)
	checkGolden(t, "get_one.yaml", kiln(t, srv, "", "get", "comp", "web", "-n", "a", "-o", "yaml").must(t).out)
	checkGolden(t, "get_list.json", kiln(t, srv, "", "get", "comp", "-n", "b", "-o", "json").must(t).out)
	checkGolden(t, "get_names", kiln(t, srv, "", "get", "app,comp", "-n", "a", "-o", "name").must(t).out)
}

func TestGetErrors(t *testing.T) {
	srv := seeded(t)
	r := kiln(t, srv, "", "get", "comp", "web", "nope", "-n", "a")
	if r.code == nil || r.code.Error() != `Error from server (NotFound): components.kiln.dev "nope" not found` {
		t.Errorf("err = %v", r.code)
	}
	if !strings.Contains(r.out, "web") {
		t.Errorf("the found object was not printed: %q", r.out)
	}
	r = kiln(t, srv, "", "get", "comp", "-n", "empty").must(t)
	if r.out != "" || r.err != "No resources found in empty namespace.\n" {
		t.Errorf("empty: out %q err %q", r.out, r.err)
	}
	r = kiln(t, srv, "", "get", "widgets")
	if r.code == nil || !strings.Contains(r.code.Error(), `resource type "widgets"`) {
		t.Errorf("unknown type: %v", r.code)
	}
	r = kiln(t, srv, "", "get", "comp", "-o", "xml")
	if r.code == nil || !strings.Contains(r.code.Error(), "table, wide, yaml, json, name") {
		t.Errorf("bad -o: %v", r.code)
	}
}

func TestGetWatch(t *testing.T) {
	srv := seeded(t)
	srv.SetMaxEventsPerStream(1) // force resumes between events
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncbuf.Buffer{}
	done := make(chan result)
	go func() { done <- kilnCtx(ctx, t, srv, "", out, "get", "comp", "-n", "a", "-w") }()
	waitFor(t, "the initial table", func() bool { return strings.Contains(out.String(), "web") })

	c := client.New(srv.ClientConfig())
	res, _ := c.ResolveResource(ctx, "comp")
	if _, err := c.Create(ctx, res, "a", comp("a", "new", "shop")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Patch(ctx, res, "a", "new", client.ContentTypeMergePatch, []byte(`{"spec":{"application":"store"}}`)); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, res, "a", "api", nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "three events", func() bool { return strings.Count(out.String(), "\n") == 6 })
	cancel()
	if r := <-done; r.code != nil {
		t.Fatalf("watch ended with %v: %s", r.code, r.err)
	}
	checkGolden(t, "get_watch", out.String())
	if n := srv.CountRequests("GET", "/apis/kiln.dev/v1alpha1/namespaces/a/components?allowWatchBookmarks"); n < 3 {
		t.Errorf("watch connected %d times, want a resume after each event", n)
	}
}

func TestGetWatchOnlyYAML(t *testing.T) {
	srv := seeded(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncbuf.Buffer{}
	done := make(chan result)
	go func() {
		done <- kilnCtx(ctx, t, srv, "", out, "get", "comp", "web", "-n", "a", "--watch-only", "-o", "name")
	}()
	waitFor(t, "the watch to start", func() bool {
		return srv.CountRequests("GET", "/apis/kiln.dev/v1alpha1/namespaces/a/components?allowWatchBookmarks") > 0
	})
	c := client.New(srv.ClientConfig())
	res, _ := c.ResolveResource(ctx, "comp")
	for _, n := range []string{"api", "web"} { // only web is watched
		if _, err := c.Patch(ctx, res, "a", n, client.ContentTypeMergePatch, []byte(`{"metadata":{"labels":{"x":"y"}}}`)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "one event", func() bool { return out.String() != "" })
	cancel()
	<-done
	if out.String() != "component.kiln.dev/web\n" {
		t.Fatalf("printed %q", out.String())
	}
}
