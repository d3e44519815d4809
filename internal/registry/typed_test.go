package registry

import (
	"context"
	"errors"
	"fmt"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

func TestGetIsTyped(t *testing.T) {
	t.Parallel()
	r := newFixture(t)
	c, err := Get[v1alpha1.Component](t.Context(), r, "team-a", "web")
	if err != nil || c.Name != "web" || c.Spec.Application != "shop" {
		t.Fatalf("Get = %+v, %v", c, err)
	}
	ns, err := Get[v1alpha1.Namespace](t.Context(), r, "", "team-a")
	if err != nil || ns.Name != "team-a" {
		t.Fatalf("Get of a cluster-scoped kind = %+v, %v", ns, err)
	}
	if _, err := Get[v1alpha1.Component](t.Context(), r, "team-a", "gone"); !apierrors.IsNotFound(err) {
		t.Fatalf("Get of a missing object: %v, want NotFound", err)
	}
}

// TestUpdateStatusStartsAgainAfterAConflict: a write that lands between
// UpdateStatus's read and its write is kept, and the change is applied
// again on top of it.
func TestUpdateStatusStartsAgainAfterAConflict(t *testing.T) {
	t.Parallel()
	r := newFixture(t)
	ctx := t.Context()
	calls := 0
	out, err := UpdateStatus(ctx, r, "team-a", "web", func(c *v1alpha1.Component) error {
		calls++
		if calls == 1 { // another writer gets there first
			if _, err := UpdateStatus(ctx, r, "team-a", "web", func(o *v1alpha1.Component) error {
				o.Status.LastSeenCommit = "other"
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		c.Status.BuildCounter++
		return nil
	})
	if err != nil || calls != 2 {
		t.Fatalf("UpdateStatus: %v after %d calls of change; want success after 2", err, calls)
	}
	got, _ := Get[v1alpha1.Component](ctx, r, "team-a", "web")
	if got.Status.BuildCounter != 1 || got.Status.LastSeenCommit != "other" || out.Status.BuildCounter != 1 {
		t.Fatalf("status %+v; want the other writer's commit and one increment", got.Status)
	}
}

// TestUpdateStatusGivesUpAfterTenConflicts: a change that always loses
// the race fails with the conflict instead of looping.
func TestUpdateStatusGivesUpAfterTenConflicts(t *testing.T) {
	t.Parallel()
	r := newFixture(t)
	ctx := t.Context()
	calls := 0
	_, err := UpdateStatus(ctx, r, "team-a", "web", func(c *v1alpha1.Component) error {
		calls++
		if _, err := UpdateStatus(ctx, r, "team-a", "web", func(o *v1alpha1.Component) error {
			o.Status.LastSeenCommit = fmt.Sprint(calls)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return nil
	})
	if !apierrors.IsConflict(err) || calls != maxConflicts+1 {
		t.Fatalf("UpdateStatus: %v after %d calls; want a conflict after %d", err, calls, maxConflicts+1)
	}
}

func TestUpdateStatusChangeErrorWritesNothing(t *testing.T) {
	t.Parallel()
	r := newFixture(t)
	stop := errors.New("no longer mine")
	_, err := UpdateStatus(t.Context(), r, "team-a", "web", func(c *v1alpha1.Component) error {
		c.Status.BuildCounter = 7
		return stop
	})
	got, _ := Get[v1alpha1.Component](t.Context(), r, "team-a", "web")
	if !errors.Is(err, stop) || got.Status.BuildCounter != 0 {
		t.Fatalf("err %v, counter %d; want the change's error and nothing written", err, got.Status.BuildCounter)
	}
	if _, err := UpdateStatus(t.Context(), r, "team-a", "gone", func(*v1alpha1.Component) error { return nil }); !apierrors.IsNotFound(err) {
		t.Fatalf("UpdateStatus of a missing object: %v, want NotFound", err)
	}
}

func TestListReadsEveryPage(t *testing.T) {
	t.Parallel()
	r := newFixture(t)
	ctx := context.Background()
	for i := range 4 {
		c := &v1alpha1.Component{Spec: v1alpha1.ComponentSpec{Application: "shop",
			Source: v1alpha1.ComponentSource{Git: &v1alpha1.GitSource{URL: "https://git.example/c"}}}}
		c.Name, c.Namespace = fmt.Sprintf("c%d", i), "team-a"
		if _, err := r.Create(ctx, KindFor[v1alpha1.Component](), c, CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := List[v1alpha1.Component](ctx, r, ListOptions{Namespace: "team-a", Limit: 2, Continue: "stale"})
	if err != nil || len(got) != 5 || got[0].Name != "c0" || got[4].Name != "web" {
		t.Fatalf("List = %d components, %v; want c0…c3 and web", len(got), err)
	}
}
