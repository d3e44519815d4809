package registry

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

// Typed access for Kiln's own code (controllers, triggers): the kind
// comes from the Go type, and the conflict-retry loop of a status update
// is written once, here.

// Object is the pointer type of a kind's Go type T: *v1alpha1.Build for
// v1alpha1.Build.
type Object[T any] interface {
	*T
	v1alpha1.Object
}

// maxConflicts bounds how often UpdateStatus starts again from a fresh
// copy because another writer got there first.
const maxConflicts = 10

// KindFor returns the kind of T's objects; T must be a registered kind's
// Go type (anything else is a programming error).
func KindFor[T any, P Object[T]]() *v1alpha1.Kind {
	k, ok := v1alpha1.KindOf(P(new(T)))
	if !ok {
		panic(fmt.Sprintf("registry: %T is not the Go type of a registered kind", new(T)))
	}
	return k
}

// Get reads object ns/name of T's kind (ns is "" for cluster-scoped kinds).
func Get[T any, P Object[T]](ctx context.Context, r *Registry, ns, name string) (P, error) {
	obj, err := r.Get(ctx, KindFor[T, P](), ns, name, GetOptions{})
	if err != nil {
		return nil, err
	}
	return obj.(P), nil
}

// List reads every object of T's kind that opts selects, a page at a time
// (opts.Limit sizes the pages; opts.Continue is ignored).
func List[T any, P Object[T]](ctx context.Context, r *Registry, opts ListOptions) ([]P, error) {
	k := KindFor[T, P]()
	opts.Continue = ""
	var out []P
	for {
		res, err := r.List(ctx, k, opts)
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", k.Plural, err)
		}
		for _, o := range res.Items {
			out = append(out, o.(P))
		}
		if opts.Continue = res.Continue; opts.Continue == "" {
			return out, nil
		}
	}
}

// WriteStatus writes obj's status. It fails with a conflict when obj
// changed since it was read: the caller decides again from a fresh copy
// (UpdateStatus does that for changes that can simply be applied again).
func WriteStatus[T any, P Object[T]](ctx context.Context, r *Registry, obj P) (P, error) {
	out, err := r.Update(ctx, KindFor[T, P](), obj, UpdateOptions{Subresource: "status"})
	if err != nil {
		return nil, err
	}
	return out.(P), nil
}

// UpdateStatus applies change to a fresh copy of object ns/name of T's
// kind and writes its status; when another writer got there first (a
// conflict), it starts again from a fresher copy, up to 10 times. change
// may therefore run more than once; an error from it ends the update
// without a write and is returned as it is.
func UpdateStatus[T any, P Object[T]](ctx context.Context, r *Registry, ns, name string, change func(P) error) (P, error) {
	for attempt := 0; ; attempt++ {
		obj, err := Get[T, P](ctx, r, ns, name)
		if err != nil {
			return nil, fmt.Errorf("reading %s %s: %w", KindFor[T, P]().Singular, path(ns, name), err)
		}
		if err := change(obj); err != nil {
			return nil, err
		}
		out, err := WriteStatus[T, P](ctx, r, obj)
		if err == nil || !apierrors.IsConflict(err) || attempt == maxConflicts {
			return out, err
		}
	}
}

func path(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}
