package registry_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/registry"
	"github.com/kilnbuild/kiln/internal/registry/registrytest"
	"github.com/kilnbuild/kiln/internal/store"
)

// fixture is a registry holding namespace team-a with application shop.
func fixture(t *testing.T) *registry.Registry {
	t.Helper()
	reg := registrytest.New(t)
	mustCreate(t, reg, "apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a}\n")
	mustCreate(t, reg, "apiVersion: kiln.dev/v1alpha1\nkind: Application\nmetadata: {name: shop, namespace: team-a}\n")
	return reg
}

func create(t *testing.T, reg *registry.Registry, doc string) (v1alpha1.Object, error) {
	t.Helper()
	obj, k, err := v1alpha1.Decode([]byte(doc))
	if err != nil {
		t.Fatalf("decoding %q: %v", doc, err)
	}
	return reg.Create(context.Background(), k, obj, registry.CreateOptions{})
}

func mustCreate(t *testing.T, reg *registry.Registry, doc string) v1alpha1.Object {
	t.Helper()
	obj, err := create(t, reg, doc)
	if err != nil {
		t.Fatalf("creating %q: %v", doc, err)
	}
	return obj
}

func component(name, app string) string {
	return "apiVersion: kiln.dev/v1alpha1\nkind: Component\nmetadata: {name: " + name + ", namespace: team-a}\n" +
		"spec: {application: " + app + ", source: {git: {url: \"https://git.example/" + name + "\"}}}\n"
}

func get(t *testing.T, reg *registry.Registry, kind, ns, name string) v1alpha1.Object {
	t.Helper()
	obj, err := reg.Get(context.Background(), v1alpha1.MustLookup(kind), ns, name, registry.GetOptions{})
	if err != nil {
		t.Fatalf("getting %s %s/%s: %v", kind, ns, name, err)
	}
	return obj
}

func TestCreateFillsServerFieldsAndOwners(t *testing.T) {
	t.Parallel()
	reg := fixture(t)
	ns := get(t, reg, "Namespace", "", "team-a")
	if fins := ns.GetFinalizers(); len(fins) != 1 || fins[0] != registry.NamespaceFinalizer {
		t.Errorf("namespace finalizers %v, want the namespace controller's", fins)
	}
	c := mustCreate(t, reg, component("web", "shop"))
	if c.GetUID() == "" || c.GetGeneration() != 1 || c.GetResourceVersion() == "" || c.GetCreationTimestamp().Time.IsZero() {
		t.Fatalf("server fields missing: uid %q generation %d rv %q created %v", c.GetUID(), c.GetGeneration(), c.GetResourceVersion(), c.GetCreationTimestamp())
	}
	shop := get(t, reg, "Application", "team-a", "shop")
	if refs := c.GetOwnerReferences(); len(refs) != 1 || refs[0].UID != shop.GetUID() || refs[0].Kind != "Application" {
		t.Fatalf("owner references %v, want the application", refs)
	}
	_, err := create(t, reg, component("api", "nope"))
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.application") || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("dangling reference: %v, want Invalid naming spec.application", err)
	}
	_, err = create(t, reg, "apiVersion: kiln.dev/v1alpha1\nkind: Application\nmetadata: {name: x, namespace: nowhere}\n")
	if !apierrors.IsNotFound(err) {
		t.Errorf("create in a missing namespace: %v, want NotFound", err)
	}
	_, err = create(t, reg, "apiVersion: kiln.dev/v1alpha1\nkind: User\nmetadata: {name: u, namespace: team-a}\n")
	if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "cluster-scoped") {
		t.Errorf("cluster-scoped kind with a namespace: %v", err)
	}
	_, err = create(t, reg, component("web", "shop"))
	if !apierrors.IsAlreadyExists(err) {
		t.Errorf("second create: %v, want AlreadyExists", err)
	}
}

// TestUpdateGenerationConflictStatus: the generation counts spec changes
// only, a stale resourceVersion conflicts, an update that changes nothing
// writes nothing, and status is written through its subresource only.
func TestUpdateGenerationConflictStatus(t *testing.T) {
	t.Parallel()
	reg := fixture(t)
	k := v1alpha1.MustLookup("Component")
	ctx := context.Background()
	c := mustCreate(t, reg, component("web", "shop"))
	web := func() *v1alpha1.Component { return get(t, reg, "Component", "team-a", "web").(*v1alpha1.Component) }

	labelled := web()
	labelled.Labels = map[string]string{"tier": "web"}
	got := update(t, reg, labelled, "")
	if got.GetGeneration() != 1 || got.GetResourceVersion() == c.GetResourceVersion() {
		t.Fatalf("label change: generation %d, rv %s -> %s", got.GetGeneration(), c.GetResourceVersion(), got.GetResourceVersion())
	}
	if _, err := reg.Update(ctx, k, c, registry.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("stale update: %v, want Conflict", err)
	}
	next := web()
	next.Spec.Source.Git.Revision = "dev"
	next.Status.LastBuiltCommit = "forged"
	got = update(t, reg, next, "")
	if got.GetGeneration() != 2 || got.(*v1alpha1.Component).Status.LastBuiltCommit != "" {
		t.Fatalf("spec change: generation %d, status %+v", got.GetGeneration(), got.(*v1alpha1.Component).Status)
	}
	status := web()
	status.Status.LastBuiltCommit = "abc123"
	status.Spec.Source.Git.Revision = "ignored"
	got = update(t, reg, status, "status")
	if c := got.(*v1alpha1.Component); c.Status.LastBuiltCommit != "abc123" || c.Spec.Source.Git.Revision != "dev" || c.GetGeneration() != 2 {
		t.Fatalf("status update: status %+v, revision %q, generation %d", c.Status, c.Spec.Source.Git.Revision, c.GetGeneration())
	}
	if again := update(t, reg, got, ""); again.GetResourceVersion() != got.GetResourceVersion() {
		t.Fatalf("an update that changes nothing moved the rv %s -> %s", got.GetResourceVersion(), again.GetResourceVersion())
	}
}

func update(t *testing.T, reg *registry.Registry, obj v1alpha1.Object, sub string) v1alpha1.Object {
	t.Helper()
	k, _ := v1alpha1.KindOf(obj)
	out, err := reg.Update(context.Background(), k, obj, registry.UpdateOptions{Subresource: sub})
	if err != nil {
		t.Fatalf("updating %s: %v", obj.GetName(), err)
	}
	return out
}

func TestDeleteFinalizersPreconditionsOrphans(t *testing.T) {
	t.Parallel()
	reg := fixture(t)
	ctx := context.Background()
	comp, app := v1alpha1.MustLookup("Component"), v1alpha1.MustLookup("Application")
	c := mustCreate(t, reg, component("web", "shop"))
	if _, _, err := reg.Delete(ctx, comp, "team-a", "web", registry.DeleteOptions{PreconditionRV: "1"}); !apierrors.IsConflict(err) {
		t.Errorf("stale rv precondition: %v, want Conflict", err)
	}
	if _, _, err := reg.Delete(ctx, comp, "team-a", "web", registry.DeleteOptions{PreconditionUID: "other"}); !apierrors.IsConflict(err) {
		t.Errorf("wrong uid precondition: %v, want Conflict", err)
	}
	c.SetFinalizers([]string{"example.com/hold"})
	update(t, reg, c, "")
	marked, gone, err := reg.Delete(ctx, comp, "team-a", "web", registry.DeleteOptions{PreconditionUID: c.GetUID()})
	if err != nil || gone || marked.GetDeletionTimestamp() == nil {
		t.Fatalf("delete with a finalizer: gone %v, deletionTimestamp %v, %v", gone, marked.GetDeletionTimestamp(), err)
	}
	marked.SetFinalizers(nil)
	if _, err := reg.Update(ctx, comp, marked, registry.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Get(ctx, comp, "team-a", "web", registry.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("removing the last finalizer left the object: %v", err)
	}

	mustCreate(t, reg, component("api", "shop"))
	shop := get(t, reg, "Application", "team-a", "shop")
	if _, gone, err := reg.Delete(ctx, app, "team-a", "shop", registry.DeleteOptions{Orphan: true}); err != nil || !gone {
		t.Fatalf("orphaning delete: gone %v, %v", gone, err)
	}
	if deps, err := reg.Dependents(ctx, shop.GetUID()); err != nil || len(deps) != 0 {
		t.Fatalf("dependants of the deleted application: %d, %v", len(deps), err)
	}
	if refs := get(t, reg, "Component", "team-a", "api").GetOwnerReferences(); len(refs) != 0 {
		t.Fatalf("orphan keeps owner references %v", refs)
	}
}

func TestSecretsSealedAtRest(t *testing.T) {
	t.Parallel()
	reg := fixture(t)
	ctx := context.Background()
	const value = "s3cr3t-value-visible-nowhere"
	mustCreate(t, reg, "apiVersion: v1\nkind: Secret\nmetadata: {name: creds, namespace: team-a}\nstringData: {password: "+value+"}\n")
	rec, err := reg.Store().Get(ctx, store.Key{Kind: "Secret", Namespace: "team-a", Name: "creds"})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(rec.Data, []byte(value)) || bytes.Contains(rec.Data, []byte("czNjcjN0")) {
		t.Fatalf("secret stored in the clear: %s", rec.Data)
	}
	k := v1alpha1.MustLookup("Secret")
	hidden, err := reg.Get(ctx, k, "team-a", "creds", registry.GetOptions{})
	if err != nil || string(hidden.(*v1alpha1.Secret).Data["password"]) == value {
		t.Fatalf("Get without Reveal shows the value: %v", err)
	}
	shown, err := reg.Get(ctx, k, "team-a", "creds", registry.GetOptions{Reveal: true})
	if err != nil || string(shown.(*v1alpha1.Secret).Data["password"]) != value {
		t.Fatalf("Get with Reveal: %v", err)
	}
	if again := update(t, reg, shown, ""); again.GetResourceVersion() != shown.GetResourceVersion() {
		t.Fatal("re-sealing an unchanged secret moved its resourceVersion")
	}
}

// TestTerminatingNamespace: a namespace being deleted takes nothing new,
// and its name stays taken, with a message saying why.
func TestTerminatingNamespace(t *testing.T) {
	t.Parallel()
	reg := fixture(t)
	ctx := context.Background()
	if _, gone, err := reg.Delete(ctx, v1alpha1.MustLookup("Namespace"), "", "team-a", registry.DeleteOptions{}); err != nil || gone {
		t.Fatalf("deleting the namespace: gone %v, %v", gone, err)
	}
	_, err := create(t, reg, "apiVersion: kiln.dev/v1alpha1\nkind: Application\nmetadata: {name: late, namespace: team-a}\n")
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "being deleted") {
		t.Errorf("create in a terminating namespace: %v, want Forbidden", err)
	}
	_, err = create(t, reg, "apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a}\n")
	if !apierrors.IsAlreadyExists(err) || !strings.Contains(err.Error(), "being deleted") {
		t.Errorf("re-creating a terminating namespace: %v", err)
	}
}
