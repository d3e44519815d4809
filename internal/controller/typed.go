package controller

import (
	"context"
	"fmt"
	"maps"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kilnbuild/kiln/internal/registry"
)

// ObjectReconciler reconciles one object of T's kind per request: it
// reads the object and hands it to the typed reconcile function. A
// request whose object does not exist (deleted since it was queued) is
// done, after the OnGone function when one is set.
type ObjectReconciler[T any, P registry.Object[T]] struct {
	reg       *registry.Registry
	reconcile func(context.Context, P) (Result, error)
	gone      func(Request)
}

// For turns a typed reconcile function into a Reconciler reading through
// reg.
func For[T any, P registry.Object[T]](reg *registry.Registry, reconcile func(context.Context, P) (Result, error)) *ObjectReconciler[T, P] {
	return &ObjectReconciler[T, P]{reg: reg, reconcile: reconcile}
}

// OnGone sets what a request whose object no longer exists does (e.g.
// stop work started for it); by default, nothing.
func (o *ObjectReconciler[T, P]) OnGone(gone func(Request)) *ObjectReconciler[T, P] {
	o.gone = gone
	return o
}

// Reconcile reads req's object and reconciles it.
func (o *ObjectReconciler[T, P]) Reconcile(ctx context.Context, req Request) (Result, error) {
	obj, err := registry.Get[T, P](ctx, o.reg, req.Namespace, req.Name)
	if apierrors.IsNotFound(err) {
		if o.gone != nil {
			o.gone(req)
		}
		return Result{}, nil
	}
	if err != nil {
		return Result{}, err
	}
	return o.reconcile(ctx, obj)
}

// ByKind reconciles requests of several kinds, each with its own
// Reconciler (a controller whose sources watch several kinds).
type ByKind map[string]Reconciler

// Reconcile hands req to the Reconciler of its kind.
func (b ByKind) Reconcile(ctx context.Context, req Request) (Result, error) {
	r, ok := b[req.Kind]
	if !ok {
		return Result{}, fmt.Errorf("no reconciler for %s: want one of kinds %v", req, b.kinds())
	}
	return r.Reconcile(ctx, req)
}

func (b ByKind) kinds() []string { return slices.Sorted(maps.Keys(b)) }
