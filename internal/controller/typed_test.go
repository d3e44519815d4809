package controller

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/registry"
)

// newRegistry is a registry over a real store with namespace team and
// application app in it.
func newRegistry(t *testing.T) *registry.Registry {
	t.Helper()
	reg := registry.New(openStore(t), nil)
	for _, doc := range []string{
		`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team"}}`,
		`{"apiVersion":"kiln.dev/v1alpha1","kind":"Application","metadata":{"name":"app","namespace":"team"},"spec":{}}`,
	} {
		obj, k, err := v1alpha1.Decode([]byte(doc))
		if err == nil {
			_, err = reg.Create(t.Context(), k, obj, registry.CreateOptions{})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return reg
}

// TestForReadsTheObjectAndSkipsDeletedOnes: the typed function gets the
// request's object; a request whose object is gone runs OnGone instead.
func TestForReadsTheObjectAndSkipsDeletedOnes(t *testing.T) {
	t.Parallel()
	reg := newRegistry(t)
	var seen, gone []string
	r := For(reg, func(_ context.Context, a *v1alpha1.Application) (Result, error) {
		seen = append(seen, a.Namespace+"/"+a.Name)
		return Result{}, nil
	}).OnGone(func(req Request) { gone = append(gone, req.String()) })
	for _, name := range []string{"app", "deleted"} {
		if _, err := r.Reconcile(t.Context(), Request{Kind: "Application", Namespace: "team", Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Join(seen, ",") != "team/app" || strings.Join(gone, ",") != "Application team/deleted" {
		t.Fatalf("reconciled %v, gone %v; want team/app reconciled, team/deleted gone", seen, gone)
	}
}

func TestByKindDispatchesOnTheRequestKind(t *testing.T) {
	t.Parallel()
	reg := newRegistry(t)
	var got []string
	r := ByKind{
		"Application": For(reg, func(_ context.Context, a *v1alpha1.Application) (Result, error) {
			got = append(got, "application "+a.Name)
			return Result{}, nil
		}),
		"Namespace": For(reg, func(_ context.Context, ns *v1alpha1.Namespace) (Result, error) {
			got = append(got, "namespace "+ns.Name)
			return Result{}, nil
		}),
	}
	for _, req := range []Request{{Kind: "Namespace", Name: "team"}, {Kind: "Application", Namespace: "team", Name: "app"}} {
		if _, err := r.Reconcile(t.Context(), req); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Join(got, ",") != "namespace team,application app" {
		t.Fatalf("reconciled %v", got)
	}
	_, err := r.Reconcile(t.Context(), Request{Kind: "Build", Namespace: "team", Name: "b"})
	if err == nil || !strings.Contains(err.Error(), "no reconciler for Build team/b") || !strings.Contains(err.Error(), "[Application Namespace]") {
		t.Fatalf("a kind without a reconciler: %v", err)
	}
	if errors.Is(err, context.Canceled) {
		t.Fatal("unexpected cancellation")
	}
}
