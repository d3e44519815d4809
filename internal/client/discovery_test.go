package client_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/internal/apiserver/apitest"
	"github.com/kilnbuild/kiln/internal/client"
)

func TestResolveResource(t *testing.T) {
	srv, c, _ := setup(t) // c has resolved a resource already
	ctx := context.Background()
	for _, name := range []string{"component", "components", "comp", "Component", "COMPONENTS",
		"components.kiln.dev", "component.kiln.dev", "components.appstudio.redhat.com"} {
		r, err := c.ResolveResource(ctx, name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if r.Group != "kiln.dev" || r.Version != "v1alpha1" || r.Name != "components" || !r.Namespaced || r.Kind != "Component" {
			t.Errorf("%s resolved to %+v", name, r)
		}
		if !slices.Contains(r.Subresources, "status") {
			t.Errorf("%s: subresources %v lack status", name, r.Subresources)
		}
	}
	r, err := c.ResolveResource(ctx, "ns")
	if err != nil || r.Group != "" || r.Name != "namespaces" || r.Namespaced {
		t.Errorf("ns resolved to %+v, %v", r, err)
	}
	_, err = c.ResolveResource(ctx, "widgets")
	if err == nil || !strings.Contains(err.Error(), `"widgets"`) || !strings.Contains(err.Error(), "api-resources") {
		t.Errorf("unknown type: err = %v", err)
	}
	_, err = c.ResolveResource(ctx, "components.example.com")
	if err == nil {
		t.Error("a wrong group resolved")
	}
	if n := srv.CountRequests("GET", "/api/v1"); n != 1 {
		t.Errorf("discovery fetched /api/v1 %d times, want once per client", n)
	}
}

func TestResourceFor(t *testing.T) {
	srv := apitest.Start(t)
	c := client.New(srv.ClientConfig())
	ctx := context.Background()
	r, err := c.ResourceFor(ctx, "appstudio.redhat.com/v1alpha1", "Component")
	if err != nil || r.GroupVersion() != "kiln.dev/v1alpha1" {
		t.Fatalf("konflux alias: %+v, %v", r, err)
	}
	if r, err := c.ResourceFor(ctx, "v1", "Secret"); err != nil || r.Name != "secrets" {
		t.Fatalf("Secret: %+v, %v", r, err)
	}
	if _, err := c.ResourceFor(ctx, "kiln.dev/v1", "Component"); err == nil || !strings.Contains(err.Error(), "kiln.dev/v1alpha1") {
		t.Errorf("wrong version: err = %v, want the served version suggested", err)
	}
	if _, err := c.ResourceFor(ctx, "kiln.dev/v1alpha1", "Widget"); err == nil {
		t.Error("unknown kind accepted")
	}
}

func TestResourcePath(t *testing.T) {
	comp := client.Resource{Group: "kiln.dev", Version: "v1alpha1", Name: "components", Kind: "Component", Namespaced: true}
	ns := client.Resource{Version: "v1", Name: "namespaces", Kind: "Namespace"}
	secret := client.Resource{Version: "v1", Name: "secrets", Namespaced: true}
	tok := client.Resource{Group: "kiln.dev", Version: "v1alpha1", Name: "tokens"}
	for _, tc := range []struct{ got, want string }{
		{comp.Path("a", "web", "status"), "/apis/kiln.dev/v1alpha1/namespaces/a/components/web/status"},
		{comp.Path("a", ""), "/apis/kiln.dev/v1alpha1/namespaces/a/components"},
		{comp.Path("", ""), "/apis/kiln.dev/v1alpha1/components"},
		{ns.Path("ignored", "team-a"), "/api/v1/namespaces/team-a"},
		{secret.Path("a", "s"), "/api/v1/namespaces/a/secrets/s"},
		{secret.Path("", ""), "/api/v1/secrets"},
		{tok.Path("", "tok-1"), "/apis/kiln.dev/v1alpha1/tokens/tok-1"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
	if got := comp.KindName("web"); got != "component.kiln.dev/web" {
		t.Errorf("KindName = %s", got)
	}
	if got := ns.KindName("a"); got != "namespace/a" {
		t.Errorf("KindName = %s", got)
	}
}
