package gc

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/controller"
	"github.com/kilnbuild/kiln/internal/registry"
	"github.com/kilnbuild/kiln/internal/registry/registrytest"
)

func newRegistry(t *testing.T) *registry.Registry { return registrytest.New(t) }

func create(t *testing.T, reg *registry.Registry, kind, ns, doc string) error {
	t.Helper()
	k := v1alpha1.MustLookup(kind)
	obj, err := v1alpha1.DecodeAs(k, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	obj.SetNamespace(ns)
	_, err = reg.Create(t.Context(), k, obj, registry.CreateOptions{})
	return err
}

// purger records the namespaces it purged; it fails while failures > 0,
// like a server killed in the middle of deleting the files.
type purger struct {
	mu       sync.Mutex
	failures int
	purged   []string
}

func (p *purger) PurgeNamespace(_ context.Context, ns string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.purged = append(p.purged, ns)
	if p.failures > 0 {
		p.failures--
		return errors.New("killed")
	}
	return nil
}

func namespaceGone(t *testing.T, reg *registry.Registry, ns string) bool {
	t.Helper()
	_, err := reg.Get(t.Context(), v1alpha1.MustLookup("Namespace"), "", ns, registry.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return apierrors.IsNotFound(err)
}

// A deleted namespace keeps its name until its objects are gone and its
// data purged; a purge cut short (a crash) leaves the namespace
// Terminating, refuses a create of the name with a clear message, and a
// controller started afresh finishes the deletion. Only the deleted
// namespace is purged, never "a-b".
func TestNamespaceDeletionPurgesBeforeReleasingTheName(t *testing.T) {
	t.Parallel()
	reg := newRegistry(t)
	for _, ns := range []string{"a", "a-b"} {
		if err := create(t, reg, "Namespace", "", `{"metadata":{"name":"`+ns+`"}}`); err != nil {
			t.Fatal(err)
		}
	}
	if err := create(t, reg, "Application", "a", `{"metadata":{"name":"app","finalizers":["example.com/hold"]},"spec":{}}`); err != nil {
		t.Fatal(err)
	}
	nsKind, appKind := v1alpha1.MustLookup("Namespace"), v1alpha1.MustLookup("Application")
	if _, _, err := reg.Delete(t.Context(), nsKind, "", "a", registry.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	req := controller.Request{Name: "a"}
	crashing := &purger{failures: 1}
	first := controller.For(reg, (&Namespaces{reg: reg, purgers: []Purger{crashing}}).reconcile)
	if _, err := first.Reconcile(t.Context(), req); err != nil || len(crashing.purged) != 0 {
		t.Fatalf("purged while an object remained: %v %v", err, crashing.purged)
	}
	app, err := reg.Get(t.Context(), appKind, "a", "app", registry.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	app.SetFinalizers(nil)
	if _, err := reg.Update(t.Context(), appKind, app, registry.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := first.Reconcile(t.Context(), req); err == nil || namespaceGone(t, reg, "a") {
		t.Fatalf("the name was released although the purge failed: %v", err)
	}
	err = create(t, reg, "Namespace", "", `{"metadata":{"name":"a"}}`)
	if !apierrors.IsAlreadyExists(err) || !strings.Contains(err.Error(), "namespace a is being deleted") || !strings.Contains(err.Error(), "retry when it is gone") {
		t.Fatalf("creating a namespace still being deleted: %v", err)
	}

	restarted := &purger{}
	second := controller.For(reg, (&Namespaces{reg: reg, purgers: []Purger{restarted}}).reconcile)
	if _, err := second.Reconcile(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	if !namespaceGone(t, reg, "a") || strings.Join(restarted.purged, ",") != "a" {
		t.Fatalf("after restart: gone=%v purged=%v", namespaceGone(t, reg, "a"), restarted.purged)
	}
	if _, err := second.Reconcile(t.Context(), controller.Request{Name: "a-b"}); err != nil || len(restarted.purged) != 1 {
		t.Fatalf("an active namespace was purged: %v %v", err, restarted.purged)
	}
	if err := create(t, reg, "Namespace", "", `{"metadata":{"name":"a"}}`); err != nil {
		t.Fatalf("the name is not free after deletion: %v", err)
	}
}

// The collector deletes the dependants of an owner that is gone, and
// nothing while the owner lives.
func TestCollectorDeletesDependantsOfDeletedOwners(t *testing.T) {
	t.Parallel()
	reg := newRegistry(t)
	if err := create(t, reg, "Namespace", "", `{"metadata":{"name":"a"}}`); err != nil {
		t.Fatal(err)
	}
	if err := create(t, reg, "Application", "a", `{"metadata":{"name":"app"}}`); err != nil {
		t.Fatal(err)
	}
	if err := create(t, reg, "Component", "a", `{"metadata":{"name":"web"},"spec":{"application":"app","source":{"git":{"url":"https://git.example/web"}}}}`); err != nil {
		t.Fatal(err)
	}
	appKind, compKind := v1alpha1.MustLookup("Application"), v1alpha1.MustLookup("Component")
	app, err := reg.Get(t.Context(), appKind, "a", "app", registry.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := &Collector{reg: reg, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	req := controller.Request{Name: string(app.GetUID())}
	if _, err := c.Reconcile(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Get(t.Context(), compKind, "a", "web", registry.GetOptions{}); err != nil {
		t.Fatalf("a dependant of a live owner was deleted: %v", err)
	}
	if _, _, err := reg.Delete(t.Context(), appKind, "a", "app", registry.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Reconcile(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Get(t.Context(), compKind, "a", "web", registry.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the dependant of a deleted owner remains: %v", err)
	}
}
