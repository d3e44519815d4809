package registry

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/store"
)

// CreateOptions tune Create.
type CreateOptions struct {
	// KeepStatus stores the status as given; only the system sets it.
	KeepStatus bool
}

// Create stores a new object and returns it as stored.
func (r *Registry) Create(ctx context.Context, k *v1alpha1.Kind, obj v1alpha1.Object, opts CreateOptions) (v1alpha1.Object, error) {
	if err := r.prepareCreate(k, obj, opts); err != nil {
		return nil, err
	}
	if err := AdmitUser(ctx, k, nil, obj); err != nil {
		return nil, err
	}
	if err := r.admit(ctx, k, obj, nil); err != nil {
		return nil, err
	}
	rec, err := r.toRecord(k, obj)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	out, err := r.store.Create(ctx, rec)
	if errors.Is(err, store.ErrAlreadyExists) && k.Kind == "Namespace" {
		return nil, r.namespaceTaken(ctx, k, obj.GetName())
	}
	if err != nil {
		return nil, r.storeErr(k, obj.GetName(), err)
	}
	return r.fromRecord(k, out, false)
}

// namespaceTaken explains why a namespace cannot be created: it exists, or
// it is still being deleted (its name is free only once everything it owned
// is gone).
func (r *Registry) namespaceTaken(ctx context.Context, k *v1alpha1.Kind, name string) error {
	taken := apierrors.NewAlreadyExists(GroupResource(k), name)
	old, err := r.Get(ctx, k, "", name, GetOptions{})
	if err != nil || old.GetDeletionTimestamp() == nil {
		return taken
	}
	taken.ErrStatus.Message = fmt.Sprintf("namespace %s is being deleted: its objects, registry content, logs and caches are still being removed; retry when it is gone (kiln get namespace %s)", name, name)
	return taken
}

func (r *Registry) prepareCreate(k *v1alpha1.Kind, obj v1alpha1.Object, opts CreateOptions) error {
	if obj.GetName() == "" && obj.GetGenerateName() != "" {
		obj.SetName(obj.GetGenerateName() + string(uuid.NewUUID())[:5])
	}
	if !k.Namespaced && obj.GetNamespace() != "" {
		return apierrors.NewBadRequest(fmt.Sprintf("%s is cluster-scoped: remove metadata.namespace %q", k.Kind, obj.GetNamespace()))
	}
	obj.GetObjectKind().SetGroupVersionKind(k.GVK())
	obj.SetUID(uuid.NewUUID())
	obj.SetCreationTimestamp(metav1.NewTime(r.now().UTC().Truncate(1e9)))
	obj.SetResourceVersion("")
	obj.SetGeneration(1)
	obj.SetDeletionTimestamp(nil)
	obj.SetDeletionGracePeriodSeconds(nil)
	if !opts.KeepStatus {
		clearStatus(obj)
	}
	normalizeSecret(k, obj)
	if k.Kind == "Namespace" && !containsString(obj.GetFinalizers(), NamespaceFinalizer) {
		obj.SetFinalizers(append(obj.GetFinalizers(), NamespaceFinalizer))
	}
	return nil
}

// UpdateOptions tune Update.
type UpdateOptions struct {
	// Subresource "status" replaces only the status; "" replaces everything
	// else and keeps the stored status.
	Subresource string
	// Admit, when set, checks a patched object (old, new) before it is
	// written: rules that depend on who asks.
	Admit func(old, obj v1alpha1.Object) error
}

// Update replaces an object. A non-empty metadata.resourceVersion must match
// the stored one (optimistic concurrency). An update that changes nothing
// returns the stored object without a new resourceVersion.
func (r *Registry) Update(ctx context.Context, k *v1alpha1.Kind, obj v1alpha1.Object, opts UpdateOptions) (v1alpha1.Object, error) {
	old, err := r.Get(ctx, k, obj.GetNamespace(), obj.GetName(), GetOptions{Reveal: true})
	if err != nil {
		return nil, err
	}
	if rv := obj.GetResourceVersion(); rv != "" && rv != old.GetResourceVersion() {
		return nil, r.storeErr(k, obj.GetName(), errConflict)
	}
	next, err := r.nextVersion(ctx, k, old, obj, opts)
	if err != nil {
		return nil, err
	}
	return r.commitUpdate(ctx, k, old, next)
}

// nextVersion computes the object to store from the stored one and the
// caller's version.
func (r *Registry) nextVersion(ctx context.Context, k *v1alpha1.Kind, old, obj v1alpha1.Object, opts UpdateOptions) (v1alpha1.Object, error) {
	switch opts.Subresource {
	case "status":
		next := r.clone(k, old)
		copyStatus(next, obj)
		return next, nil
	case "":
		if err := AdmitUser(ctx, k, old, obj); err != nil {
			return nil, err
		}
		keepSystemMeta(obj, old)
		copyStatus(obj, old)
		normalizeSecret(k, obj)
		if string(bodyJSON(obj)) != string(bodyJSON(old)) {
			obj.SetGeneration(old.GetGeneration() + 1)
		}
		if err := r.admit(ctx, k, obj, old); err != nil {
			return nil, err
		}
		return obj, nil
	}
	return nil, apierrors.NewNotFound(GroupResource(k), obj.GetName()+"/"+opts.Subresource)
}

// commitUpdate writes next unless nothing changed; an object being deleted
// whose last finalizer was removed is deleted instead.
func (r *Registry) commitUpdate(ctx context.Context, k *v1alpha1.Kind, old, next v1alpha1.Object) (v1alpha1.Object, error) {
	next.SetResourceVersion(old.GetResourceVersion())
	if next.GetDeletionTimestamp() != nil && len(next.GetFinalizers()) == 0 {
		return r.remove(ctx, k, next)
	}
	if sameObject(old, next) {
		return r.redact(k, old), nil
	}
	rec, err := r.toRecord(k, next)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	out, err := r.store.Update(ctx, rec)
	if err != nil {
		return nil, r.storeErr(k, next.GetName(), err)
	}
	return r.fromRecord(k, out, false)
}

// keepSystemMeta copies the metadata only the server sets from old to obj.
func keepSystemMeta(obj, old v1alpha1.Object) {
	obj.SetUID(old.GetUID())
	obj.SetCreationTimestamp(old.GetCreationTimestamp())
	obj.SetGeneration(old.GetGeneration())
	obj.SetDeletionTimestamp(old.GetDeletionTimestamp())
	obj.SetDeletionGracePeriodSeconds(old.GetDeletionGracePeriodSeconds())
	obj.GetObjectKind().SetGroupVersionKind(old.GetObjectKind().GroupVersionKind())
	if obj.GetDeletionTimestamp() != nil {
		// Once deletion started, finalizers may only be removed.
		var keep []string
		for _, f := range obj.GetFinalizers() {
			if containsString(old.GetFinalizers(), f) {
				keep = append(keep, f)
			}
		}
		obj.SetFinalizers(keep)
	}
}
