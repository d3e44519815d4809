package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/kilnbuild/kiln/internal/client"
)

// target is one resource type and the names asked for (none: all).
type target struct {
	res   client.Resource
	names []string
}

// parseTargets resolves `TYPE[,TYPE...] [NAME...]` or `TYPE/NAME...`.
func parseTargets(ctx context.Context, c *client.Client, args []string) ([]target, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("name a resource type, e.g. `components` (list the types with `kiln api-resources`)")
	}
	if strings.Contains(args[0], "/") {
		return parseSlashTargets(ctx, c, args)
	}
	var out []target
	for _, typ := range strings.Split(args[0], ",") {
		if typ == "" {
			continue
		}
		res, err := c.ResolveResource(ctx, typ)
		if err != nil {
			return nil, err
		}
		out = append(out, target{res: res, names: args[1:]})
	}
	return out, nil
}

func parseSlashTargets(ctx context.Context, c *client.Client, args []string) ([]target, error) {
	var out []target
	index := map[string]int{}
	for _, a := range args {
		typ, name, ok := strings.Cut(a, "/")
		if !ok || typ == "" || name == "" {
			return nil, fmt.Errorf("%q: when one argument is TYPE/NAME, all must be (e.g. components/web)", a)
		}
		res, err := c.ResolveResource(ctx, typ)
		if err != nil {
			return nil, err
		}
		key := res.GroupResource()
		if i, ok := index[key]; ok {
			out[i].names = append(out[i].names, name)
			continue
		}
		index[key] = len(out)
		out = append(out, target{res: res, names: []string{name}})
	}
	return out, nil
}

// namespaceOf returns the namespace to address res in: "" for
// cluster-scoped resources or all namespaces.
func namespaceOf(g *globals, res client.Resource, all bool) string {
	if !res.Namespaced || all {
		return ""
	}
	return g.ns()
}
