package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/kilnbuild/kiln/internal/store"
)

// Attributes describe one request for authorisation.
type Attributes struct {
	Verb        string
	Kind        string
	Namespaced  bool
	Namespace   string
	Name        string
	Subresource string
}

// Authorizer decides requests from role bindings stored per namespace.
type Authorizer struct{ st store.Store }

// NewAuthorizer reads role bindings and namespaces from st.
func NewAuthorizer(st store.Store) *Authorizer { return &Authorizer{st: st} }

// Decision is an authorisation outcome. Filter means "allowed, but show only
// the namespaces the caller can see" (all-namespace reads).
type Decision struct {
	Allowed bool
	Filter  bool
	Reason  string
}

func allow() Decision             { return Decision{Allowed: true} }
func deny(reason string) Decision { return Decision{Reason: reason} }
func filtered() Decision          { return Decision{Allowed: true, Filter: true} }
func isRead(verb string) bool     { return verb == VerbGet || verb == VerbList || verb == VerbWatch }
func isCollection(a Attributes) bool {
	return a.Name == "" && (a.Verb == VerbList || a.Verb == VerbWatch)
}

// Authorize decides a request.
func (z *Authorizer) Authorize(ctx context.Context, id *Identity, a Attributes) (Decision, error) {
	if id.Restricted() {
		return deny(id.User + " is a worker or build token: it has no role in any namespace"), nil
	}
	if id.ClusterAdmin {
		return allow(), nil
	}
	if a.Subresource == "status" && !isRead(a.Verb) {
		return deny("status is written only by Kiln"), nil
	}
	switch {
	case a.Kind == "Namespace":
		return z.namespace(ctx, id, a)
	case a.Kind == "User":
		if a.Verb == VerbGet && a.Name == id.User {
			return allow(), nil
		}
		return deny("only cluster admins manage users"), nil
	case !a.Namespaced:
		return deny(fmt.Sprintf("only cluster admins may %s %s", a.Verb, a.Kind)), nil
	case a.Namespace == "":
		if isCollection(a) {
			return filtered(), nil
		}
		return deny("a namespace is required"), nil
	}
	return z.inNamespace(ctx, id, a.Namespace, a.Kind, a.Verb)
}

func (z *Authorizer) namespace(ctx context.Context, id *Identity, a Attributes) (Decision, error) {
	if isCollection(a) {
		return filtered(), nil
	}
	if a.Verb == VerbCreate {
		return allow(), nil // the API server allows tenant namespaces only
	}
	return z.inNamespace(ctx, id, a.Name, "Namespace", a.Verb)
}

func (z *Authorizer) inNamespace(ctx context.Context, id *Identity, ns, kind, verb string) (Decision, error) {
	roles, err := z.Roles(ctx, id, ns)
	if err != nil {
		return Decision{}, err
	}
	if len(roles) == 0 {
		return deny(fmt.Sprintf("user %q has no role in namespace %q", id.User, ns)), nil
	}
	for _, r := range roles {
		if r.Allows(kind, verb) {
			return allow(), nil
		}
	}
	return deny(fmt.Sprintf("user %q (role %s in namespace %q) may not %s %s", id.User, joinRoles(roles), ns, verb, kind)), nil
}

func joinRoles(roles []Role) string {
	s := ""
	for i, r := range roles {
		if i > 0 {
			s += ","
		}
		s += string(r)
	}
	return s
}

// bindingDoc is the part of a stored RoleBinding the authorizer needs.
type bindingDoc struct {
	Spec struct {
		Role     Role `json:"role"`
		Subjects []struct {
			Kind      string `json:"kind"`
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"subjects"`
	} `json:"spec"`
}

func (b *bindingDoc) matches(id *Identity, bindingNS string) bool {
	for _, s := range b.Spec.Subjects {
		switch s.Kind {
		case "User":
			if s.Name == id.User {
				return true
			}
		case "ServiceAccount":
			ns := s.Namespace
			if ns == "" {
				ns = bindingNS
			}
			if ServiceAccountUser(ns, s.Name) == id.User {
				return true
			}
		}
	}
	return false
}

// Roles returns the caller's roles in namespace ns.
func (z *Authorizer) Roles(ctx context.Context, id *Identity, ns string) ([]Role, error) {
	var roles []Role
	err := z.eachBinding(ctx, ns, func(bns string, b *bindingDoc) {
		if b.matches(id, bns) && b.Spec.Role.Valid() {
			roles = append(roles, b.Spec.Role)
		}
	})
	return roles, err
}

// Bindings returns, for every namespace where the caller has a role, its
// roles there.
func (z *Authorizer) Bindings(ctx context.Context, id *Identity) (map[string][]Role, error) {
	out := map[string][]Role{}
	err := z.eachBinding(ctx, "", func(bns string, b *bindingDoc) {
		if b.matches(id, bns) && b.Spec.Role.Valid() {
			out[bns] = append(out[bns], b.Spec.Role)
		}
	})
	return out, err
}

// VisibleNamespaces lists the namespaces where the caller has any role.
func (z *Authorizer) VisibleNamespaces(ctx context.Context, id *Identity) ([]string, error) {
	b, err := z.Bindings(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(b))
	for ns := range b {
		out = append(out, ns)
	}
	sort.Strings(out)
	return out, nil
}

func (z *Authorizer) eachBinding(ctx context.Context, ns string, fn func(string, *bindingDoc)) error {
	opts := store.ListOptions{Filter: store.Filter{Kind: "RoleBinding", Namespace: ns}, Limit: 1000}
	for {
		res, err := z.st.List(ctx, opts)
		if err != nil {
			return fmt.Errorf("listing role bindings: %w", err)
		}
		for _, rec := range res.Items {
			var b bindingDoc
			if json.Unmarshal(rec.Data, &b) == nil {
				fn(rec.Namespace, &b)
			}
		}
		if res.Continue == "" {
			return nil
		}
		opts.Continue = res.Continue
	}
}
