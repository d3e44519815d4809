package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/store"
)

var errConflict = store.ErrConflict

// DeleteOptions tune Delete.
type DeleteOptions struct {
	// PreconditionRV and PreconditionUID, when set, must match the stored
	// object.
	PreconditionRV  string
	PreconditionUID types.UID
	// Orphan keeps dependants, removing their owner reference instead of
	// deleting them with their owner.
	Orphan bool
}

// Delete removes an object. An object with finalizers is only marked for
// deletion (metadata.deletionTimestamp); it goes away once its controllers
// remove their finalizers. It returns the object and whether it is gone.
func (r *Registry) Delete(ctx context.Context, k *v1alpha1.Kind, ns, name string, opts DeleteOptions) (v1alpha1.Object, bool, error) {
	for attempt := 0; ; attempt++ {
		obj, gone, err := r.deleteOnce(ctx, k, ns, name, opts)
		if apierrors.IsConflict(err) && opts.PreconditionRV == "" && attempt < 5 {
			continue // a controller wrote meanwhile; the caller asked for no version
		}
		return obj, gone, err
	}
}

func (r *Registry) deleteOnce(ctx context.Context, k *v1alpha1.Kind, ns, name string, opts DeleteOptions) (v1alpha1.Object, bool, error) {
	obj, err := r.Get(ctx, k, ns, name, GetOptions{Reveal: true})
	if err != nil {
		return nil, false, err
	}
	if err := checkPreconditions(k, obj, opts); err != nil {
		return nil, false, err
	}
	if opts.Orphan {
		if err := r.orphanDependents(ctx, obj.GetUID()); err != nil {
			return nil, false, err
		}
	}
	if len(obj.GetFinalizers()) > 0 {
		out, err := r.markDeleted(ctx, k, obj)
		return out, false, err
	}
	out, err := r.remove(ctx, k, obj)
	return out, err == nil, err
}

func checkPreconditions(k *v1alpha1.Kind, obj v1alpha1.Object, opts DeleteOptions) error {
	if opts.PreconditionRV != "" && opts.PreconditionRV != obj.GetResourceVersion() {
		return apierrors.NewConflict(GroupResource(k), obj.GetName(),
			fmt.Errorf("precondition failed: resourceVersion is %s, not %s", obj.GetResourceVersion(), opts.PreconditionRV))
	}
	if opts.PreconditionUID != "" && opts.PreconditionUID != obj.GetUID() {
		return apierrors.NewConflict(GroupResource(k), obj.GetName(),
			fmt.Errorf("precondition failed: uid is %s, not %s", obj.GetUID(), opts.PreconditionUID))
	}
	return nil
}

// markDeleted sets the deletion timestamp once.
func (r *Registry) markDeleted(ctx context.Context, k *v1alpha1.Kind, obj v1alpha1.Object) (v1alpha1.Object, error) {
	if obj.GetDeletionTimestamp() != nil {
		return r.redact(k, obj), nil
	}
	old := r.clone(k, obj)
	now := metav1.NewTime(r.now().UTC().Truncate(1e9))
	obj.SetDeletionTimestamp(&now)
	return r.commitUpdate(ctx, k, old, obj)
}

// remove deletes the stored object if it is still at obj's version.
func (r *Registry) remove(ctx context.Context, k *v1alpha1.Kind, obj v1alpha1.Object) (v1alpha1.Object, error) {
	rv, _ := strconv.ParseInt(obj.GetResourceVersion(), 10, 64)
	out, err := r.store.Delete(ctx, r.key(k, obj.GetNamespace(), obj.GetName()), rv)
	if err != nil {
		return nil, r.storeErr(k, obj.GetName(), err)
	}
	return r.fromRecord(k, out, false)
}

// Dependents lists every object that names uid as an owner.
func (r *Registry) Dependents(ctx context.Context, uid types.UID) ([]*store.Object, error) {
	var out []*store.Object
	for _, k := range v1alpha1.Kinds() {
		res, err := r.store.List(ctx, store.ListOptions{Filter: store.Filter{Kind: k.Kind, OwnerUID: string(uid)}})
		if err != nil {
			return nil, fmt.Errorf("listing dependents of %s: %w", uid, err)
		}
		out = append(out, res.Items...)
	}
	return out, nil
}

// FirstDependent returns one object that lists uid among its owners, or
// nil: enough to learn who the owner is without reading every dependant.
func (r *Registry) FirstDependent(ctx context.Context, uid types.UID) (*store.Object, error) {
	for _, k := range v1alpha1.Kinds() {
		res, err := r.store.List(ctx, store.ListOptions{Filter: store.Filter{Kind: k.Kind, OwnerUID: string(uid)}, Limit: 1})
		if err != nil {
			return nil, fmt.Errorf("listing dependents of %s: %w", uid, err)
		}
		if len(res.Items) > 0 {
			return res.Items[0], nil
		}
	}
	return nil, nil
}

// orphanDependents removes the owner reference to uid from its dependents.
func (r *Registry) orphanDependents(ctx context.Context, uid types.UID) error {
	deps, err := r.Dependents(ctx, uid)
	if err != nil {
		return err
	}
	for _, rec := range deps {
		if err := r.dropOwner(ctx, rec, uid); err != nil {
			return err
		}
	}
	return nil
}

func (r *Registry) dropOwner(ctx context.Context, rec *store.Object, uid types.UID) error {
	k, _ := v1alpha1.Lookup(rec.Kind)
	obj, err := r.fromRecord(k, rec, true)
	if err != nil {
		return err
	}
	old := r.clone(k, obj)
	var keep []metav1.OwnerReference
	for _, o := range obj.GetOwnerReferences() {
		if o.UID != uid {
			keep = append(keep, o)
		}
	}
	obj.SetOwnerReferences(keep)
	_, err = r.commitUpdate(ctx, k, old, obj)
	return err
}

// clone deep-copies an object through JSON.
func (r *Registry) clone(k *v1alpha1.Kind, obj v1alpha1.Object) v1alpha1.Object {
	b, _ := json.Marshal(obj)
	out := k.New()
	_ = json.Unmarshal(b, out)
	out.GetObjectKind().SetGroupVersionKind(k.GVK())
	return out
}

// redact hides Secret values.
func (r *Registry) redact(k *v1alpha1.Kind, obj v1alpha1.Object) v1alpha1.Object {
	if k.Kind != secretKind {
		return obj
	}
	b, _ := json.Marshal(obj)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	if data, ok := m["data"].(map[string]any); ok {
		for key := range data {
			data[key] = ""
		}
	}
	b, _ = json.Marshal(m)
	out := k.New()
	_ = json.Unmarshal(b, out)
	return out
}
