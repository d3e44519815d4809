package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/client"
	"github.com/kilnbuild/kiln/internal/registry"
)

// seededServer is the real API holding components web and api (application
// shop) in namespace a, and blog (application news) in b.
func seededServer(t *testing.T) apiServer {
	t.Helper()
	isolate(t)
	srv := newServer(t, "a", "b")
	srv.Seed(t, application("a", "shop"), application("b", "news"),
		comp("a", "web", "shop"), comp("a", "api", "shop"), comp("b", "blog", "news"))
	return srv
}

func TestDeleteByName(t *testing.T) {
	srv := seededServer(t)
	r := kiln(t, srv, "", "delete", "comp", "web", "api", "-n", "a").must(t)
	if r.out != "component.kiln.dev \"web\" deleted\ncomponent.kiln.dev \"api\" deleted\n" {
		t.Fatalf("printed %q", r.out)
	}
	if srv.Object(t, "components", "a", "web") != nil {
		t.Fatal("web still exists")
	}
	r = kiln(t, srv, "", "delete", "comp", "web", "-n", "a")
	if r.code == nil || r.code.Error() != `Error from server (NotFound): components.kiln.dev "web" not found` {
		t.Fatalf("missing: %v", r.code)
	}
	kiln(t, srv, "", "delete", "comp", "web", "-n", "a", "--ignore-not-found").must(t)
}

func TestDeleteSelectorAndSlashForm(t *testing.T) {
	srv := seededServer(t)
	r := kiln(t, srv, "", "delete", "comp", "-A", "-l", "x=y")
	if r.code == nil || !strings.Contains(r.code.Error(), "unknown shorthand flag: 'A'") {
		t.Fatalf("-A is not a delete flag: %v", r.code)
	}
	r = kiln(t, srv, "", "delete", "comp", "-n", "a")
	if r.code == nil || !strings.Contains(r.code.Error(), "-l SELECTOR or --all") {
		t.Fatalf("no names: %v", r.code)
	}
	kiln(t, srv, "", "delete", "comp", "-n", "a", "--all").must(t)
	if srv.Object(t, "components", "a", "web") != nil || srv.Object(t, "components", "b", "blog") == nil {
		t.Fatal("--all deleted the wrong objects")
	}
	r = kiln(t, srv, "", "delete", "applications/shop", "components/blog", "-n", "a")
	if r.out != "application.kiln.dev \"shop\" deleted\n" || r.code == nil {
		t.Fatalf("slash form: out %q err %v", r.out, r.code)
	}
}

func TestDeleteFromFileReverseOrderAndWait(t *testing.T) {
	dir := isolate(t)
	srv := newServer(t)
	f := writeFile(t, dir, "shop.yaml", shopYAML)
	kiln(t, srv, "", "apply", "-f", f, "-n", "team-a").must(t)
	hold(t, srv, "applications", "team-a", "shop")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	finalized := make(chan error, 1)
	go func() { finalized <- finalizeDeleted(ctx, srv.Registry, "team-a") }()
	r := kiln(t, srv, "", "delete", "-f", f, "-n", "team-a", "--wait", "--timeout", "1m").must(t)
	want := "component.kiln.dev \"web\" deleted\napplication.kiln.dev \"shop\" deleted\nsecret \"creds\" deleted\nnamespace \"team-a\" deleted\n"
	if r.out != want {
		t.Fatalf("printed:\n%s\nwant:\n%s", r.out, want)
	}
	if srv.Object(t, "applications", "team-a", "shop") != nil || srv.Object(t, "namespaces", "", "team-a") != nil {
		t.Fatal("--wait returned before the objects were gone")
	}
	if r.err != "" {
		t.Errorf("a spinner was drawn on a non-terminal: %q", r.err)
	}
	cancel()
	if err := <-finalized; err != nil {
		t.Fatal(err)
	}
}

func TestDeleteWaitTimeout(t *testing.T) {
	srv := seededServer(t)
	hold(t, srv, "components", "a", "web") // and nothing releases it
	r := kiln(t, srv, "", "delete", "comp", "web", "-n", "a", "--wait", "--timeout", "30ms")
	if r.code == nil || !strings.Contains(r.code.Error(), "still being deleted") || !strings.Contains(r.code.Error(), "kiln describe components web") {
		t.Fatalf("err = %v", r.code)
	}
}

// hold gives an object a finalizer, so that a delete only marks it.
func hold(t *testing.T, srv apiServer, resource, ns, name string) {
	t.Helper()
	c := client.New(srv.ClientConfig())
	ctx := context.Background()
	r, err := c.ResolveResource(ctx, resource)
	if err == nil {
		_, err = c.Patch(ctx, r, ns, name, client.ContentTypeMergePatch, []byte(`{"metadata":{"finalizers":["example.com/hold"]}}`))
	}
	if err != nil {
		t.Fatal(err)
	}
}

// finalizeDeleted plays the controllers the test API does not run: until
// ctx ends, it removes the finalizers of namespace ns and of its
// applications once they are marked for deletion.
func finalizeDeleted(ctx context.Context, reg *registry.Registry, ns string) error {
	apps, nsKind := v1alpha1.MustLookup("Application"), v1alpha1.MustLookup("Namespace")
	for {
		res, err := reg.List(ctx, apps, registry.ListOptions{Namespace: ns})
		if err != nil {
			return ignoreEnded(ctx, err)
		}
		for _, o := range res.Items {
			if err := release(ctx, reg, apps, o); err != nil {
				return ignoreEnded(ctx, err)
			}
		}
		if o, err := reg.Get(ctx, nsKind, "", ns, registry.GetOptions{}); err == nil {
			if err := release(ctx, reg, nsKind, o); err != nil {
				return ignoreEnded(ctx, err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// release removes the finalizers of an object marked for deletion.
func release(ctx context.Context, reg *registry.Registry, k *v1alpha1.Kind, o v1alpha1.Object) error {
	if o.GetDeletionTimestamp() == nil || len(o.GetFinalizers()) == 0 {
		return nil
	}
	o.SetFinalizers(nil)
	_, err := reg.Update(ctx, k, o, registry.UpdateOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // gone meanwhile, or changed: the next round sees it
	}
	return err
}

func ignoreEnded(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}
