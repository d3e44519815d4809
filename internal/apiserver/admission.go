package apiserver

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/registry"
)

// specType reads spec.type / spec.role style string fields without depending
// on a kind's Go type.
func specString(obj v1alpha1.Object, field string) string {
	raw, _ := json.Marshal(obj)
	var d struct {
		Spec map[string]any `json:"spec"`
	}
	_ = json.Unmarshal(raw, &d)
	s, _ := d.Spec[field].(string)
	return s
}

// admitRequest applies rules that depend on who is asking or on other
// objects: only cluster admins create managed namespaces, and the releaser
// role exists only in managed namespaces.
func (s *Server) admitRequest(ctx context.Context, k *v1alpha1.Kind, obj v1alpha1.Object) error {
	id := IdentityFrom(ctx)
	switch k.Kind {
	case "Namespace":
		if specString(obj, "type") == "managed" && !id.ClusterAdmin {
			return forbidden(fmt.Sprintf("only cluster admins create managed namespaces; ask one to create %q, or omit spec.type for a tenant namespace", obj.GetName()))
		}
	case "ReleasePlanAdmission":
		if err := s.requireManaged(ctx, obj.GetNamespace(), "ReleasePlanAdmissions live in managed namespaces: the release team creates them there, naming your namespace as spec.origin"); err != nil {
			return err
		}
	case "RoleBinding":
		if specString(obj, "role") == "releaser" {
			nsKind, _ := v1alpha1.Lookup("Namespace")
			ns, err := s.reg.Get(ctx, nsKind, "", obj.GetNamespace(), registry.GetOptions{})
			if err != nil {
				return err
			}
			if specString(ns, "type") != "managed" {
				return badRequest(fmt.Sprintf("spec.role: the releaser role is only for managed namespaces; %q is a tenant namespace", obj.GetNamespace()))
			}
		}
	}
	return nil
}

// admitChange applies admitRequest's rules to a patched object. A
// Namespace that already was managed may be patched by whoever may patch
// it; turning a tenant namespace into a managed one takes a cluster admin.
func (s *Server) admitChange(ctx context.Context, k *v1alpha1.Kind, old, obj v1alpha1.Object) error {
	if k.Kind == "Namespace" && specString(old, "type") == "managed" && specString(obj, "type") == "managed" {
		return nil
	}
	return s.admitRequest(ctx, k, obj)
}

// requireManaged refuses unless namespace ns is a managed one.
func (s *Server) requireManaged(ctx context.Context, ns, why string) error {
	nsKind, _ := v1alpha1.Lookup("Namespace")
	obj, err := s.reg.Get(ctx, nsKind, "", ns, registry.GetOptions{})
	if err != nil {
		return err
	}
	if specString(obj, "type") != "managed" {
		return badRequest(fmt.Sprintf("%q is a tenant namespace: %s", ns, why))
	}
	return nil
}

// afterCreate makes the creator of a tenant namespace its admin.
func (s *Server) afterCreate(ctx context.Context, k *v1alpha1.Kind, obj v1alpha1.Object) {
	id := IdentityFrom(ctx)
	if k.Kind != "Namespace" || id.ClusterAdmin {
		return
	}
	if err := GrantRole(ctx, s.reg, obj.GetName(), "admin", id.User); err != nil {
		s.log.Error("binding namespace creator as admin", "namespace", obj.GetName(), "user", id.User, "err", err)
	}
}

// GrantRole binds user to role in namespace ns.
func GrantRole(ctx context.Context, reg *registry.Registry, ns, role, user string) error {
	k, _ := v1alpha1.Lookup("RoleBinding")
	obj := k.New()
	raw, _ := json.Marshal(map[string]any{
		"metadata": map[string]any{"name": v1alpha1.FitName(role + "-" + sanitize(user)), "namespace": ns},
		"spec":     map[string]any{"role": role, "subjects": []map[string]string{{"kind": "User", "name": user}}},
	})
	if err := json.Unmarshal(raw, obj); err != nil {
		return err
	}
	_, err := reg.Create(ctx, k, obj, registry.CreateOptions{})
	return err
}

func sanitize(s string) string {
	out := []rune{}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '.':
			out = append(out, r)
		case r >= 'A' && r <= 'Z':
			out = append(out, r+'a'-'A')
		default:
			out = append(out, '-')
		}
	}
	return string(out)
}
