package oci

import (
	"context"
	"errors"
	"fmt"

	"github.com/kilnbuild/kiln/internal/auth"
)

// KilnAuthorizer decides registry requests with Kiln's tokens and role
// bindings: a repository <namespace>/<name>[/...] is read like a Component
// of that namespace (viewer and up may pull; maintainer and admin may push
// and delete); cluster admins may do anything, including the catalog.
func KilnAuthorizer(authn *auth.Authenticator, authz *auth.Authorizer) Authorizer {
	return &kilnAuthorizer{authn: authn, authz: authz}
}

type kilnAuthorizer struct {
	authn *auth.Authenticator
	authz *auth.Authorizer
}

// verbs maps registry actions to the verbs checked on kind Component.
var verbs = map[Action]string{
	ActionPull:   auth.VerbGet,
	ActionPush:   auth.VerbCreate,
	ActionDelete: auth.VerbDelete,
}

func (k *kilnAuthorizer) Authorize(ctx context.Context, token, namespace string, action Action) error {
	id, err := k.authn.Authenticate(ctx, token)
	if errors.Is(err, auth.ErrUnauthenticated) {
		return fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	if err != nil {
		return fmt.Errorf("authenticating registry request: %w", err)
	}
	switch {
	case action == ActionLogin || id.ClusterAdmin:
		return nil
	case action == ActionCatalog:
		return fmt.Errorf("%w: only cluster admins may list every repository", ErrForbidden)
	}
	verb, ok := verbs[action]
	if !ok {
		return fmt.Errorf("%w: unknown registry action %q", ErrForbidden, action)
	}
	d, err := k.authz.Authorize(ctx, id, auth.Attributes{
		Verb: verb, Kind: "Component", Namespaced: true, Namespace: namespace,
	})
	if err != nil {
		return fmt.Errorf("authorising registry request: %w", err)
	}
	if !d.Allowed {
		return fmt.Errorf("%w: %s %s/*: %s", ErrForbidden, action, namespace, d.Reason)
	}
	return nil
}
