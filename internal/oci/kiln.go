package oci

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/kilnbuild/kiln/internal/auth"
)

// KilnAuthorizer decides registry requests with Kiln's tokens and role
// bindings: a repository <namespace>/<name>[/...] is read like a Component
// of that namespace (viewer and up may pull; maintainer and admin may push
// and delete); cluster admins may do anything, including the catalog.
func KilnAuthorizer(authn *auth.Authenticator, authz *auth.Authorizer) interface {
	Authorizer
	RepositoryAuthorizer
} {
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

// AuthorizeRepository decides by the whole repository name: a build's push
// token may pull in its namespace and push only to its build's repository
// and those under it; a worker's own token may do nothing here.
func (k *kilnAuthorizer) AuthorizeRepository(ctx context.Context, token, repo string, action Action) error {
	id, err := k.identity(ctx, token)
	if err != nil {
		return err
	}
	ns, _ := namespaceOf(repo)
	if id.Restricted() {
		return scopeAllows(id, repo, ns, action)
	}
	return k.decide(ctx, id, ns, action)
}

// scopeAllows decides a request of a restricted identity.
func scopeAllows(id *auth.Identity, repo, ns string, action Action) error {
	sc := id.Scope
	if sc.Repository == "" || sc.Namespace == "" {
		return fmt.Errorf("%w: %s may not use the registry", ErrForbidden, id.User)
	}
	switch {
	case action == ActionLogin:
		return nil
	case action == ActionPull && ns == sc.Namespace:
		return nil
	case action == ActionPush && (repo == sc.Repository || strings.HasPrefix(repo, sc.Repository+"/")):
		return nil
	}
	return fmt.Errorf("%w: %s may push only to %s and pull only in namespace %s, not %s %s", ErrForbidden, id.User, sc.Repository, sc.Namespace, action, repo)
}

func (k *kilnAuthorizer) identity(ctx context.Context, token string) (*auth.Identity, error) {
	id, err := k.authn.Authenticate(ctx, token)
	if errors.Is(err, auth.ErrUnauthenticated) {
		return nil, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	if err != nil {
		return nil, fmt.Errorf("authenticating registry request: %w", err)
	}
	return id, nil
}

func (k *kilnAuthorizer) Authorize(ctx context.Context, token, namespace string, action Action) error {
	id, err := k.identity(ctx, token)
	if err != nil {
		return err
	}
	if id.Restricted() {
		return fmt.Errorf("%w: %s is scoped to one repository: the registry must decide by repository", ErrForbidden, id.User)
	}
	return k.decide(ctx, id, namespace, action)
}

func (k *kilnAuthorizer) decide(ctx context.Context, id *auth.Identity, namespace string, action Action) error {
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
