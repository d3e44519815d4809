package client_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/apiserver/apitest"
	"github.com/kilnbuild/kiln/internal/client"
	"github.com/kilnbuild/kiln/internal/client/clienttest"
)

func component(ns, name, app string) client.Object {
	return client.Object{"apiVersion": "kiln.dev/v1alpha1", "kind": "Component",
		"metadata": map[string]any{"name": name, "namespace": ns, "labels": map[string]any{"app": app}},
		"spec": map[string]any{"application": app,
			"source": map[string]any{"git": map[string]any{"url": "https://git.example/" + name}}}}
}

// server is the real API in-process, with its requests logged and faults
// to inject.
type server struct {
	*apitest.Env
	*clienttest.RequestLog
	faults *clienttest.Faults
}

// setup starts the API with namespaces a (applications shop and blog) and
// b (shop), and a client of it.
func setup(t *testing.T, opts ...apitest.Option) (*server, *client.Client, client.Resource) {
	t.Helper()
	faults, log := &clienttest.Faults{}, &clienttest.RequestLog{}
	env := apitest.Start(t, append(opts, apitest.WithMiddleware(faults.Wrap), apitest.WithMiddleware(log.Record))...)
	env.Namespaces(t, "a", "b")
	for _, app := range []client.Object{application("a", "shop"), application("a", "blog"), application("b", "shop")} {
		env.Seed(t, app)
	}
	c := client.New(env.ClientConfig())
	r, err := c.ResolveResource(context.Background(), "components")
	if err != nil {
		t.Fatal(err)
	}
	return &server{Env: env, RequestLog: log, faults: faults}, c, r
}

func application(ns, name string) client.Object {
	return client.Object{"apiVersion": "kiln.dev/v1alpha1", "kind": "Application", "metadata": map[string]any{"name": name, "namespace": ns}}
}

func TestCRUD(t *testing.T) {
	_, c, r := setup(t)
	ctx := context.Background()
	created, err := c.Create(ctx, r, "a", component("a", "web", "shop"))
	if err != nil {
		t.Fatal(err)
	}
	if created.ResourceVersion() == "" || created.String("metadata", "uid") == "" {
		t.Fatalf("created object lacks server fields: %v", created)
	}
	if _, err := c.Create(ctx, r, "a", component("a", "web", "shop")); !errors.Is(err, client.ErrAlreadyExists) {
		t.Errorf("second create: err = %v, want AlreadyExists", err)
	}
	got, err := c.Get(ctx, r, "a", "web")
	if err != nil || got.String("spec", "application") != "shop" {
		t.Fatalf("get: %v, %v", got, err)
	}

	got.Map("spec")["application"] = "blog"
	updated, err := c.Update(ctx, r, "a", got)
	if err != nil {
		t.Fatal(err)
	}
	// the old resourceVersion is now stale
	if _, err := c.Update(ctx, r, "a", got); !client.IsConflict(err) {
		t.Errorf("stale update: err = %v, want Conflict", err)
	}
	patched, err := c.Patch(ctx, r, "a", "web", client.ContentTypeMergePatch, []byte(`{"metadata":{"labels":{"tier":"1"}}}`))
	if err != nil || patched.Labels()["tier"] != "1" || patched.ResourceVersion() == updated.ResourceVersion() {
		t.Fatalf("merge patch: %v, %v", patched, err)
	}
	patched, err = c.Patch(ctx, r, "a", "web", client.ContentTypeJSONPatch, []byte(`[{"op":"replace","path":"/spec/application","value":"shop"}]`))
	if err != nil || patched.String("spec", "application") != "shop" {
		t.Fatalf("json patch: %v, %v", patched, err)
	}

	rv := "1"
	err = c.Delete(ctx, r, "a", "web", &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &rv}})
	if !client.IsConflict(err) {
		t.Errorf("delete with a stale precondition: err = %v, want Conflict", err)
	}
	if err := c.Delete(ctx, r, "a", "web", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, r, "a", "web"); !client.IsNotFound(err) {
		t.Errorf("get after delete: err = %v, want NotFound", err)
	}
	if err := c.Delete(ctx, r, "a", "web", nil); !client.IsNotFound(err) || !strings.Contains(err.Error(), `components.kiln.dev "web" not found`) {
		t.Errorf("delete missing: err = %v", err)
	}
}

func TestListPaginatesAndFilters(t *testing.T) {
	srv, c, r := setup(t)
	for i := range 5 {
		app := "shop"
		if i%2 == 1 {
			app = "blog"
		}
		srv.Seed(t, component("a", fmt.Sprintf("c%d", i), app))
	}
	srv.Seed(t, component("b", "other", "shop"))
	ctx := context.Background()

	list, err := c.List(ctx, r, "a", client.ListOptions{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 5 || list.Kind != "ComponentList" || list.ResourceVersion == "" {
		t.Fatalf("list: kind %s rv %q, %d items", list.Kind, list.ResourceVersion, len(list.Items))
	}
	if n := srv.CountRequests("GET", "/apis/kiln.dev/v1alpha1/namespaces/a/components?"); n != 3 {
		t.Errorf("pages fetched = %d, want 3", n)
	}
	all, err := c.List(ctx, r, "", client.ListOptions{LabelSelector: "app=shop"})
	if err != nil || len(all.Items) != 4 {
		t.Fatalf("all namespaces app=shop: %d items, %v", len(all.Items), err)
	}
	one, err := c.List(ctx, r, "", client.ListOptions{FieldSelector: "metadata.name=other"})
	if err != nil || len(one.Items) != 1 || one.Items[0].Namespace() != "b" {
		t.Fatalf("field selector: %v, %v", one, err)
	}
}

func TestTable(t *testing.T) {
	srv, c, r := setup(t)
	srv.Seed(t, component("a", "web", "shop"), component("a", "api", "shop"))
	ctx := context.Background()
	tbl, err := c.Table(ctx, r, "a", "", client.ListOptions{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Name, the kind's columns, Age; both pages joined
	if want := 2 + len(v1alpha1.MustLookup("Component").Columns); len(tbl.ColumnDefinitions) != want || len(tbl.Rows) != 2 {
		t.Fatalf("server table: %d columns, %d rows", len(tbl.ColumnDefinitions), len(tbl.Rows))
	}
	if ns := client.RowObject(tbl.Rows[0]).Namespace(); ns != "a" {
		t.Errorf("row object namespace = %q", ns)
	}

	srv.faults.SetNoTables(true)
	tbl, err = c.Table(ctx, r, "a", "", client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(tbl.ColumnDefinitions) != 2 || tbl.ColumnDefinitions[0].Name != "Name" || len(tbl.Rows) != 2 || tbl.Rows[0].Cells[0] != "api" {
		t.Fatalf("fallback table: %+v", tbl)
	}
	tbl, err = c.Table(ctx, r, "a", "web", client.ListOptions{})
	if err != nil || len(tbl.Rows) != 1 || tbl.Rows[0].Cells[0] != "web" {
		t.Fatalf("fallback table of one object: %+v, %v", tbl, err)
	}
}

func TestBearerTokenSent(t *testing.T) {
	srv, _, _ := setup(t)
	cfg := srv.ClientConfig()
	cfg.Token = "wrong"
	_, err := client.New(cfg).Discover(context.Background())
	if !errors.Is(err, client.ErrUnauthorized) {
		t.Fatalf("err = %v, want Unauthorized", err)
	}
}
