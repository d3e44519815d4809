package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kilnbuild/kiln/internal/client"
)

// addInputs pins the current artifacts of what the component requires.
func addInputs(cmd *cobra.Command, g *globals, obj client.Object, component string) error {
	r, err := liveGraph(cmd, g, "")
	if err != nil {
		return nil // no graph (e.g. no components yet): the server reports the real problem
	}
	node := r.Graph[component]
	if node == nil || len(node.Deps) == 0 {
		return nil
	}
	c, _ := g.client(cmd)
	res, err := c.ResolveResource(cmd.Context(), "components")
	if err != nil {
		return err
	}
	var inputs []any
	for _, d := range node.Deps {
		dep, err := c.Get(cmd.Context(), res, g.ns(), d)
		if err != nil {
			return err
		}
		repo, digest, ok := strings.Cut(dep.String("status", "latestArtifactRef"), "@")
		if !ok {
			return fmt.Errorf("%s requires %s, which has no artifact yet: build it first, or build both as a group (kiln build %s %s)", component, d, d, component)
		}
		inputs = append(inputs, map[string]any{"component": d, "repository": repo, "digest": digest})
	}
	obj["spec"].(map[string]any)["inputs"] = inputs
	return nil
}

// startGroup creates a BuildGroup and, with wait, follows it to the end.
func startGroup(cmd *cobra.Command, g *globals, components []string, app string, noCache, wait bool) error {
	c, err := g.client(cmd)
	if err != nil {
		return err
	}
	if app != "" && len(components) == 0 {
		r, err := liveGraph(cmd, g, app)
		if err != nil {
			return err
		}
		for n := range r.Graph {
			components = append(components, n)
		}
	}
	res, err := c.ResolveResource(cmd.Context(), "buildgroups")
	if err != nil {
		return err
	}
	spec := map[string]any{"components": components, "reason": map[string]any{"type": "manual", "by": whoami(cmd.Context(), c)}}
	if app != "" {
		spec["application"] = app
	}
	if noCache {
		spec["noCache"] = true
	}
	obj := client.Object{"apiVersion": "kiln.dev/v1alpha1", "kind": "BuildGroup",
		"metadata": map[string]any{"generateName": "group-"}, "spec": spec}
	created, err := c.Create(cmd.Context(), res, g.ns(), obj)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s created\n", res.KindName(created.Name()))
	if !wait {
		return nil
	}
	return waitGroup(cmd, c, res, g.ns(), created.Name())
}

func waitGroup(cmd *cobra.Command, c *client.Client, res client.Resource, ns, name string) error {
	last := ""
	for {
		grp, err := c.Get(cmd.Context(), res, ns, name)
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%s %d/%d", grp.String("status", "phase"), grp.Int("status", "done"), grp.Int("status", "total"))
		if line != last {
			fmt.Fprintln(cmd.ErrOrStderr(), line)
			last = line
		}
		switch grp.String("status", "phase") {
		case "Succeeded":
			fmt.Fprintf(cmd.OutOrStdout(), "group %s succeeded: %s\n", name, grp.String("status", "message"))
			return nil
		case "Failed", "Cancelled":
			return fmt.Errorf("group %s %s: %s (see `kiln describe buildgroup %s -n %s`)", name,
				strings.ToLower(grp.String("status", "phase")), grp.String("status", "message"), name, ns)
		}
		select {
		case <-cmd.Context().Done():
			return cmd.Context().Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func newWhyCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "why BUILD",
		Short:   "Explain why a build ran, following dependency changes back to their origin",
		Example: "  kiln why greet-cli-7f3a9c21b0de\n  kiln get builds --field-selector spec.reason.build=libgreet-1a2b3c4d5e6f   # what a build caused",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, res, err := g.builds(cmd)
			if err != nil {
				return err
			}
			name := args[0]
			for depth := 0; name != "" && depth < 20; depth++ {
				b, err := c.Get(cmd.Context(), res, g.ns(), name)
				if err != nil {
					return err
				}
				printWhy(cmd, b, depth)
				name = ""
				if b.String("spec", "reason", "type") == "dependency-change" {
					name = b.String("spec", "reason", "build")
				}
			}
			return nil
		},
	}
}

func printWhy(cmd *cobra.Command, b client.Object, depth int) {
	indent := strings.Repeat("  ", depth)
	if depth > 0 {
		indent += "<- "
	}
	r := func(k string) string { return b.String("spec", "reason", k) }
	line := fmt.Sprintf("%s%s (%s, %s): %s", indent, b.Name(), b.String("spec", "component"), b.String("status", "phase"), r("type"))
	if m := r("message"); m != "" {
		line += " — " + m
	}
	if by := r("by"); by != "" {
		line += " [by " + by + "]"
	}
	if grp := b.String("spec", "group"); grp != "" {
		line += " [group " + grp + "]"
	}
	if b.Get("status", "unchanged") == true {
		line += " → output unchanged (early cutoff)"
	}
	fmt.Fprintln(cmd.OutOrStdout(), line)
}
