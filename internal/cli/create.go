package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kilnbuild/kiln/internal/client"
)

func newCreateCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an object from flags (see also `kiln apply`)",
	}
	cmd.AddCommand(newCreateNamespaceCommand(g))
	return cmd
}

func newCreateNamespaceCommand(g *globals) *cobra.Command {
	var typ string
	cmd := &cobra.Command{
		Use:     "namespace NAME [--type tenant|managed]",
		Aliases: []string{"ns"},
		Short:   "Create a namespace",
		Long: "Create a namespace: a tenant namespace is a team's workspace (the default); a managed\n" +
			"namespace belongs to a release team and holds ReleasePlanAdmissions.",
		Example: "  kiln create namespace team-a\n  kiln create namespace releng --type managed",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if typ != "tenant" && typ != "managed" {
				return fmt.Errorf("--type %q: use tenant or managed", typ)
			}
			c, err := g.client(cmd)
			if err != nil {
				return err
			}
			res, err := c.ResourceFor(cmd.Context(), "v1", "Namespace")
			if err != nil {
				return err
			}
			ns := client.Object{"apiVersion": "v1", "kind": "Namespace",
				"metadata": map[string]any{"name": args[0]}, "spec": map[string]any{"type": typ}}
			if _, err := c.Create(cmd.Context(), res, "", ns); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s created\n", res.KindName(args[0]))
			return nil
		},
	}
	cmd.Flags().StringVar(&typ, "type", "tenant", "namespace type: tenant or managed")
	return cmd
}
