package apitest

import (
	"context"
	"encoding/json"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/client"
	"github.com/kilnbuild/kiln/internal/registry"
)

// Namespaces creates tenant namespaces.
func (e *Env) Namespaces(t testing.TB, names ...string) {
	t.Helper()
	for _, ns := range names {
		e.Seed(t, client.Object{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}})
	}
}

// Seed creates objects through the registry, admitted as the API admits a
// client's (but sent by no one: the request log does not show them).
func (e *Env) Seed(t testing.TB, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		raw, err := json.Marshal(o)
		if err != nil {
			t.Fatalf("seeding %v: %v", o, err)
		}
		obj, k, err := v1alpha1.Decode(raw)
		if err == nil {
			_, err = e.Registry.Create(context.Background(), k, obj, registry.CreateOptions{})
		}
		if err != nil {
			t.Fatalf("seeding %s %s/%s: %v", o.Kind(), o.Namespace(), o.Name(), err)
		}
	}
}

// Object reads an object from the registry, Secret values hidden as the
// API hides them; nil if there is none. kind is a kind, plural or short
// name.
func (e *Env) Object(t testing.TB, kind, ns, name string) client.Object {
	t.Helper()
	k, ok := v1alpha1.Lookup(kind)
	if !ok {
		t.Fatalf("no kind %q", kind)
	}
	obj, err := e.Registry.Get(context.Background(), k, ns, name, registry.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatalf("reading %s %s/%s: %v", kind, ns, name, err)
	}
	raw, err := json.Marshal(obj)
	if err == nil {
		var out client.Object
		if err = json.Unmarshal(raw, &out); err == nil {
			return out
		}
	}
	t.Fatalf("encoding %s %s/%s: %v", kind, ns, name, err)
	return nil
}

// App is an Application named name, as a request body.
func App(name string) map[string]any {
	return map[string]any{"apiVersion": "kiln.dev/v1alpha1", "kind": "Application", "metadata": map[string]any{"name": name}}
}

// Component is a Component of application app with a git source, as a
// request body.
func Component(name, app string) map[string]any {
	return map[string]any{"apiVersion": "kiln.dev/v1alpha1", "kind": "Component",
		"metadata": map[string]any{"name": name},
		"spec":     map[string]any{"application": app, "source": map[string]any{"git": map[string]any{"url": "https://example.com/" + name + ".git"}}}}
}
