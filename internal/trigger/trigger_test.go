package trigger

import (
	"log/slog"
	"testing"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/registry"
)

func TestTriggerCreatesOneBuildPerCommitWithReasons(t *testing.T) {
	t.Parallel()
	e := setup(t)
	tr := newCreator(e.reg, nil, slog.New(slog.DiscardHandler))
	ctx := t.Context()
	first := "1111111111111111111111111111111111111111"
	second := "2222222222222222222222222222222222222222"
	for _, by := range []string{"poll", "webhook:github"} { // same commit twice
		if err := tr.onCommit(ctx, "team", "lib", first, by); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.onCommit(ctx, "team", "lib", second, "webhook:github"); err != nil {
		t.Fatal(err)
	}
	res, err := e.reg.List(ctx, buildKind, registry.ListOptions{Namespace: "team"})
	if err != nil || len(res.Items) != 2 {
		t.Fatalf("want 2 builds, got %d (%v)", len(res.Items), err)
	}
	b1 := e.build(t, AutoBuildName("lib", first))
	b2 := e.build(t, AutoBuildName("lib", second))
	if b1.Spec.Reason.Type != v1alpha1.ReasonNewComponent || b1.Spec.Revision != first {
		t.Fatalf("first build reason %+v", b1.Spec.Reason)
	}
	r := b2.Spec.Reason
	if r.Type != v1alpha1.ReasonSourceChange || r.PreviousCommit != first || r.By != "webhook:github" {
		t.Fatalf("second build reason %+v", r)
	}
	if b2.Labels[v1alpha1.LabelComponent] != "lib" || b2.Labels[v1alpha1.LabelApplication] != "app" {
		t.Fatalf("labels %v", b2.Labels)
	}
}
