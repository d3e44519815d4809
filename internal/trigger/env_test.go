package trigger

import (
	"path/filepath"
	"testing"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/registry"
	"github.com/kilnbuild/kiln/internal/secret"
	"github.com/kilnbuild/kiln/internal/store"
	"github.com/kilnbuild/kiln/internal/store/sqlstore"
)

// env is a store with namespace team, application app and component lib
// (https://example.com/lib.git). No controller runs: the tests look at
// what the triggers wrote.
type env struct {
	reg *registry.Registry
	dir string
}

func setup(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(dir, "kiln.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return newEnv(t, st, dir)
}

func newEnv(t *testing.T, st store.Store, dir string) *env {
	t.Helper()
	key, _ := secret.LoadOrCreateKey(filepath.Join(dir, "key"))
	sealer, _ := secret.New(key)
	e := &env{reg: registry.New(st, sealer), dir: dir}
	e.create(t, "Namespace", "", `{"metadata":{"name":"team"}}`)
	e.create(t, "Application", "team", `{"metadata":{"name":"app"},"spec":{}}`)
	e.create(t, "Component", "team", `{"metadata":{"name":"lib"},"spec":{"application":"app","source":{"git":{"url":"https://example.com/lib.git"}}}}`)
	return e
}

func (e *env) create(t *testing.T, kind, ns, doc string) v1alpha1.Object {
	t.Helper()
	k, _ := v1alpha1.Lookup(kind)
	obj, err := v1alpha1.DecodeAs(k, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	obj.SetNamespace(ns)
	out, err := e.reg.Create(t.Context(), k, obj, registry.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (e *env) build(t *testing.T, name string) *v1alpha1.Build {
	t.Helper()
	obj, err := e.reg.Get(t.Context(), buildKind, "team", name, registry.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return obj.(*v1alpha1.Build)
}

func (e *env) component(t *testing.T, name string) v1alpha1.ComponentStatus {
	t.Helper()
	obj, err := e.reg.Get(t.Context(), componentKind, "team", name, registry.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return obj.(*v1alpha1.Component).Status
}

func (e *env) countBuilds(t *testing.T) int {
	t.Helper()
	res, err := e.reg.List(t.Context(), buildKind, registry.ListOptions{Namespace: "team"})
	if err != nil {
		t.Fatal(err)
	}
	return len(res.Items)
}
