// Package registry is the resource layer between the API and the store: it
// admits objects (defaults, validation, references), keeps Kubernetes object
// semantics (uid, generation, resourceVersion, status sub-resource,
// finalizers, owner references) and seals Secret values at rest.
//
// It returns *apierrors.StatusError for everything a caller did wrong, so the
// API server maps errors to HTTP in one place.
package registry

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/secret"
	"github.com/kilnbuild/kiln/internal/store"
)

// Registry reads and writes resources.
type Registry struct {
	store  store.Store
	sealer *secret.Sealer
	now    func() time.Time
	// rawBufs are the buffers of raw lists, reused (*[]byte).
	rawBufs sync.Pool
}

// New returns a Registry over st that seals secrets with sealer.
func New(st store.Store, sealer *secret.Sealer) *Registry {
	return &Registry{store: st, sealer: sealer, now: time.Now}
}

// Store returns the underlying store (for watch hubs and controllers).
func (r *Registry) Store() store.Store { return r.store }

// GetOptions tune Get.
type GetOptions struct {
	// Reveal returns Secret values in plain text. Only the server's own
	// controllers set it; the API never does.
	Reveal bool
}

// Get returns one object.
func (r *Registry) Get(ctx context.Context, k *v1alpha1.Kind, ns, name string, opts GetOptions) (v1alpha1.Object, error) {
	rec, err := r.store.Get(ctx, r.key(k, ns, name))
	if err != nil {
		return nil, r.storeErr(k, name, err)
	}
	return r.fromRecord(k, rec, opts.Reveal)
}

// Decode turns a store record (from a list or watch) into a typed object with
// Secret values hidden.
func (r *Registry) Decode(rec *store.Object) (v1alpha1.Object, *v1alpha1.Kind, error) {
	k, ok := v1alpha1.Lookup(rec.Kind)
	if !ok {
		return nil, nil, fmt.Errorf("stored object %s has unknown kind", rec.Key())
	}
	obj, err := r.fromRecord(k, rec, false)
	return obj, k, err
}

func (r *Registry) key(k *v1alpha1.Kind, ns, name string) store.Key {
	if !k.Namespaced {
		ns = ""
	}
	return store.Key{Kind: k.Kind, Namespace: ns, Name: name}
}

// GroupResource names a kind in error messages.
func GroupResource(k *v1alpha1.Kind) schema.GroupResource {
	return schema.GroupResource{Group: k.Group, Resource: k.Plural}
}

// storeErr maps store sentinel errors to API status errors.
func (r *Registry) storeErr(k *v1alpha1.Kind, name string, err error) error {
	gr := GroupResource(k)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return apierrors.NewNotFound(gr, name)
	case errors.Is(err, store.ErrAlreadyExists):
		return apierrors.NewAlreadyExists(gr, name)
	case errors.Is(err, store.ErrConflict):
		return apierrors.NewConflict(gr, name, errors.New("the object has been modified; please apply your changes to the latest version and try again"))
	case errors.Is(err, store.ErrExpired):
		return apierrors.NewResourceExpired(err.Error())
	case errors.Is(err, store.ErrInvalid):
		return apierrors.NewBadRequest(err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return apierrors.NewInternalError(err)
}

func parseRV(k *v1alpha1.Kind, name, rv string) (int64, error) {
	if rv == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(rv, 10, 64)
	if err != nil || n < 0 {
		return 0, apierrors.NewBadRequest(fmt.Sprintf("%s %q: metadata.resourceVersion %q is not a resource version Kiln issued — read the object again and resend it", k.Kind, name, rv))
	}
	return n, nil
}
