// Package gc holds Kiln's built-in housekeeping controllers: the garbage
// collector that deletes objects whose owner is gone (cascading deletes), and
// the namespace controller that empties a namespace being deleted and,
// through Purgers, deletes the data it owned outside the store.
package gc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/controller"
	"github.com/kilnbuild/kiln/internal/registry"
	"github.com/kilnbuild/kiln/internal/store"
)

// Collector deletes the dependants of deleted owners. It is keyed by owner
// UID; after a crash the resync pass finds dependants of owners that no
// longer exist.
type Collector struct {
	reg *registry.Registry
	log *slog.Logger
}

// Purger deletes what a namespace owned outside the object store (registry
// content, logs, evidence, caches). The namespace controller calls it once
// every object of a deleted namespace is gone, and releases the name only
// after it succeeded; after a crash it is called again, so it must be
// idempotent. An error is retried with backoff.
type Purger interface {
	PurgeNamespace(ctx context.Context, ns string) error
}

// Controllers are the housekeeping controllers: the garbage collector
// and the namespace controller.
type Controllers struct {
	// Purgers run, in order, before a deleted namespace's name is
	// released.
	Purgers []Purger
	Log     *slog.Logger
}

// Register adds the garbage collector and namespace controller to m.
func (h *Controllers) Register(m *controller.Manager) {
	reg := m.Registry()
	c := &Collector{reg: reg, log: h.Log}
	var sources []controller.Source
	for _, k := range v1alpha1.Kinds() {
		sources = append(sources, controller.Source{Kind: k.Kind, DeletesOnly: true, Map: c.mapEvent, OnList: c.owners})
	}
	m.Register("garbage-collector", c, controller.Options{Workers: 2}, sources...)
	n := &Namespaces{reg: reg, purgers: h.Purgers}
	m.Register("namespace", controller.For(reg, n.reconcile), controller.Options{Workers: 1}, controller.Source{Kind: "Namespace"})
}

// mapEvent enqueues the UID of a deleted object.
func (c *Collector) mapEvent(ev store.Event) []controller.Request {
	return []controller.Request{{Name: ev.Object.UID}}
}

// owners enqueues the owners of a listed object, so that dependants whose
// owner vanished while Kiln was down (or raced with its deletion) are found
// at start and at every resync.
func (c *Collector) owners(o *store.Object) []controller.Request {
	out := make([]controller.Request, 0, len(o.OwnerUIDs))
	for _, uid := range o.OwnerUIDs {
		out = append(out, controller.Request{Name: uid})
	}
	return out
}

// Reconcile deletes the dependants of owner UID req.Name if no object with
// that UID exists any more.
func (c *Collector) Reconcile(ctx context.Context, req controller.Request) (controller.Result, error) {
	uid := types.UID(req.Name)
	first, err := c.reg.FirstDependent(ctx, uid)
	if err != nil || first == nil {
		return controller.Result{}, err
	}
	alive, err := c.ownerExists(ctx, first, uid)
	if err != nil || alive {
		return controller.Result{}, err
	}
	deps, err := c.reg.Dependents(ctx, uid)
	if err != nil {
		return controller.Result{}, err
	}
	for _, d := range deps {
		if err := c.deleteDependent(ctx, d); err != nil {
			return controller.Result{}, err
		}
	}
	return controller.Result{}, nil
}

// ownerExists checks the owner named in a dependant's owner references.
func (c *Collector) ownerExists(ctx context.Context, dep *store.Object, uid types.UID) (bool, error) {
	obj, _, err := c.reg.Decode(dep)
	if err != nil {
		return false, err
	}
	for _, o := range obj.GetOwnerReferences() {
		if o.UID != uid {
			continue
		}
		k, ok := v1alpha1.Lookup(o.Kind)
		if !ok {
			return false, nil
		}
		owner, err := c.reg.Get(ctx, k, dep.Namespace, o.Name, registry.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return owner.GetUID() == uid, nil
	}
	return false, nil
}

func (c *Collector) deleteDependent(ctx context.Context, d *store.Object) error {
	k, _ := v1alpha1.Lookup(d.Kind)
	_, _, err := c.reg.Delete(ctx, k, d.Namespace, d.Name, registry.DeleteOptions{PreconditionUID: types.UID(d.UID)})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting %s (owner gone): %w", d.Key(), err)
	}
	c.log.Info("deleted dependant of a deleted owner", "object", d.Key().String())
	return nil
}

// Namespaces empties namespaces marked for deletion, deletes what they
// owned outside the store, then releases them: the name stays taken (and a
// create of it is refused) until all of it is gone.
type Namespaces struct {
	reg     *registry.Registry
	purgers []Purger
}

// reconcile handles one namespace.
func (n *Namespaces) reconcile(ctx context.Context, ns *v1alpha1.Namespace) (controller.Result, error) {
	if err := n.setPhase(ctx, ns); err != nil || ns.DeletionTimestamp == nil {
		return controller.Result{}, err
	}
	remaining, err := n.empty(ctx, ns.Name)
	if err != nil {
		return controller.Result{}, err
	}
	if remaining > 0 {
		return controller.Result{RequeueAfter: 200 * time.Millisecond}, nil
	}
	for _, p := range n.purgers {
		if err := p.PurgeNamespace(ctx, ns.Name); err != nil {
			return controller.Result{}, fmt.Errorf("deleting the data of namespace %s: %w", ns.Name, err)
		}
	}
	return controller.Result{}, n.release(ctx, ns)
}

// setPhase records Active, or Terminating once deletion started.
func (n *Namespaces) setPhase(ctx context.Context, ns *v1alpha1.Namespace) error {
	phase := "Active"
	if ns.DeletionTimestamp != nil {
		phase = "Terminating"
	}
	if ns.Status.Phase == phase {
		return nil
	}
	ns.Status.Phase = phase
	_, err := registry.WriteStatus(ctx, n.reg, ns)
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil // a newer version is queued
	}
	return err
}

// empty deletes everything in namespace ns and returns how many objects are
// still there (waiting on finalizers).
func (n *Namespaces) empty(ctx context.Context, ns string) (int, error) {
	remaining := 0
	for _, k := range v1alpha1.Kinds() {
		if !k.Namespaced {
			continue
		}
		res, err := n.reg.List(ctx, k, registry.ListOptions{Namespace: ns})
		if err != nil {
			return 0, err
		}
		for _, o := range res.Items {
			_, gone, err := n.reg.Delete(ctx, k, ns, o.GetName(), registry.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				return 0, fmt.Errorf("emptying namespace %s: %w", ns, err)
			}
			if err == nil && !gone {
				remaining++
			}
		}
	}
	return remaining, nil
}

func (n *Namespaces) release(ctx context.Context, ns *v1alpha1.Namespace) error {
	var keep []string
	for _, f := range ns.Finalizers {
		if f != registry.NamespaceFinalizer {
			keep = append(keep, f)
		}
	}
	ns.Finalizers = keep
	_, err := n.reg.Update(ctx, registry.KindFor[v1alpha1.Namespace](), ns, registry.UpdateOptions{})
	if apierrors.IsNotFound(err) || errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
