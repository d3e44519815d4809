package registry

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/store"
)

// NamespaceFinalizer keeps a namespace until its contents are deleted.
const NamespaceFinalizer = "kiln.dev/namespace"

// admit validates an object about to be written: schema rules, the
// namespace it lives in, and references to other objects. old is nil on
// create.
func (r *Registry) admit(ctx context.Context, k *v1alpha1.Kind, obj, old v1alpha1.Object) error {
	var errs field.ErrorList
	if old == nil {
		errs = v1alpha1.Admit(k, obj)
	} else {
		errs = v1alpha1.AdmitUpdate(k, old, obj)
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(k.GVK().GroupKind(), obj.GetName(), errs)
	}
	if k.Namespaced && old == nil {
		if err := r.checkNamespace(ctx, obj.GetNamespace()); err != nil {
			return err
		}
	}
	return r.resolveRefs(ctx, k, obj)
}

// checkNamespace requires an existing, active namespace.
func (r *Registry) checkNamespace(ctx context.Context, ns string) error {
	nsKind, _ := v1alpha1.Lookup("Namespace")
	rec, err := r.store.Get(ctx, store.Key{Kind: nsKind.Kind, Name: ns})
	if errors.Is(err, store.ErrNotFound) {
		return apierrors.NewNotFound(GroupResource(nsKind), ns)
	}
	if err != nil {
		return r.storeErr(nsKind, ns, err)
	}
	obj, err := r.fromRecord(nsKind, rec, false)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	if obj.GetDeletionTimestamp() != nil {
		return apierrors.NewForbidden(GroupResource(nsKind), ns,
			fmt.Errorf("namespace %s is being deleted: nothing new can be created in it", ns))
	}
	return nil
}

// resolveRefs checks that every reference resolves and turns owner
// references into metadata.ownerReferences.
func (r *Registry) resolveRefs(ctx context.Context, k *v1alpha1.Kind, obj v1alpha1.Object) error {
	if k.Refs == nil {
		return nil
	}
	var errs field.ErrorList
	for _, ref := range k.Refs(obj) {
		target, err := r.getRef(ctx, ref, obj.GetNamespace())
		if apierrors.IsNotFound(err) {
			errs = append(errs, &field.Error{Type: field.ErrorTypeNotFound, Field: ref.Path.String(), BadValue: ref.Name,
				Detail: fmt.Sprintf("no %s named %q in namespace %q — create it first or fix the name", ref.Kind, ref.Name, obj.GetNamespace())})
			continue
		}
		if err != nil {
			return err
		}
		if ref.Owner {
			addOwner(obj, target)
		}
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(k.GVK().GroupKind(), obj.GetName(), errs)
	}
	return nil
}

func (r *Registry) getRef(ctx context.Context, ref v1alpha1.Ref, ns string) (v1alpha1.Object, error) {
	tk, ok := v1alpha1.Lookup(ref.Kind)
	if !ok {
		return nil, apierrors.NewInternalError(fmt.Errorf("reference to unknown kind %q", ref.Kind))
	}
	if ref.Namespace != "" {
		ns = ref.Namespace
	}
	return r.Get(ctx, tk, ns, ref.Name, GetOptions{})
}

// addOwner records target as an owner of obj, once.
func addOwner(obj, target v1alpha1.Object) {
	refs := obj.GetOwnerReferences()
	for _, o := range refs {
		if o.UID == target.GetUID() {
			return
		}
	}
	gvk := target.GetObjectKind().GroupVersionKind()
	block := true
	refs = append(refs, metav1.OwnerReference{
		APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind,
		Name: target.GetName(), UID: target.GetUID(), BlockOwnerDeletion: &block,
	})
	obj.SetOwnerReferences(refs)
}
