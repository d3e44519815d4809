package registry

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

// Requester is the user on whose behalf a write is made through the API.
// A context without one is the system's (Kiln's own controllers).
type Requester struct {
	// User is the authenticated user name.
	User string
}

type requesterKey struct{}

// WithRequester marks ctx as a user's: every write made with it is held to
// the rules on system labels and annotations (v1alpha1.ValidateUserMeta)
// and records the user where Kiln records authors.
func WithRequester(ctx context.Context, r Requester) context.Context {
	return context.WithValue(ctx, requesterKey{}, r)
}

// RequesterFrom returns the user a write is made for; ok is false for
// the system.
func RequesterFrom(ctx context.Context) (Requester, bool) {
	r, ok := ctx.Value(requesterKey{}).(Requester)
	return r, ok
}

// AdmitUser applies the rules on system metadata to a user's write (old
// is nil on create) and, on create, stamps what Kiln records about the
// user. Writes of the system pass unchecked.
func AdmitUser(ctx context.Context, k *v1alpha1.Kind, old, obj v1alpha1.Object) error {
	req, ok := RequesterFrom(ctx)
	if !ok {
		return nil
	}
	if errs := v1alpha1.ValidateUserMeta(k, old, obj); len(errs) > 0 {
		return apierrors.NewInvalid(k.GVK().GroupKind(), obj.GetName(), errs)
	}
	if old == nil {
		v1alpha1.StampUserMeta(k, obj, req.User)
	}
	return nil
}
