package demo

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/registry"
)

// Follow prints the demo's builds as they change phase until every
// component has a finished build (or ctx ends), then a summary.
func Follow(ctx context.Context, reg *registry.Registry, ns string, components int, out io.Writer) error {
	k, _ := v1alpha1.Lookup("Build")
	seen := map[string]string{}
	for {
		res, err := reg.List(ctx, k, registry.ListOptions{Namespace: ns})
		if err != nil {
			return err
		}
		builds := sortedBuilds(res.Items)
		done := map[string]bool{}
		for _, b := range builds {
			if seen[b.Name] != b.Status.Phase {
				seen[b.Name] = b.Status.Phase
				printTransition(out, b)
			}
			if b.Finished() {
				done[b.Spec.Component] = true
			}
		}
		if len(done) >= components {
			summary(out, builds)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func sortedBuilds(items []v1alpha1.Object) []*v1alpha1.Build {
	out := make([]*v1alpha1.Build, 0, len(items))
	for _, o := range items {
		out = append(out, o.(*v1alpha1.Build))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreationTimestamp.Before(&out[j].CreationTimestamp) })
	return out
}

func printTransition(out io.Writer, b *v1alpha1.Build) {
	line := fmt.Sprintf("  %-22s #%-3d %-10s", b.Name, b.Status.BuildNumber, b.Status.Phase)
	switch {
	case b.Status.Phase == v1alpha1.BuildSucceeded && b.Status.Artifact != nil:
		line += fmt.Sprintf(" %s (%s)", b.Status.Artifact.Digest[:19]+"…", took(b))
	case b.Finished():
		line += " " + b.Status.Message
	case b.Status.Phase == v1alpha1.BuildQueued:
		line += " reason: " + b.Spec.Reason.Type
	}
	fmt.Fprintln(out, line)
}

func took(b *v1alpha1.Build) string {
	if b.Status.StartTime == nil || b.Status.CompletionTime == nil {
		return "?"
	}
	return b.Status.CompletionTime.Sub(b.Status.StartTime.Time).Round(100 * time.Millisecond).String()
}

func summary(out io.Writer, builds []*v1alpha1.Build) {
	fmt.Fprintln(out, "\nArtifacts in the embedded registry:")
	for _, b := range builds {
		if b.Status.Artifact != nil {
			fmt.Fprintf(out, "  %-12s %s@%s\n", b.Spec.Component, b.Status.Artifact.Repository, b.Status.Artifact.Digest)
		}
	}
}
