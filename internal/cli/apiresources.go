package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func newAPIResourcesCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "api-resources",
		Short: "List the resource types the server serves",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client(cmd)
			if err != nil {
				return err
			}
			res, err := c.Discover(cmd.Context())
			if err != nil {
				return err
			}
			tw := newTabWriter(cmd.OutOrStdout())
			fmt.Fprintln(tw, "NAME\tSHORTNAMES\tAPIVERSION\tNAMESPACED\tKIND")
			for _, r := range res {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%s\n", r.Name, strings.Join(r.ShortNames, ","), r.GroupVersion(), r.Namespaced, r.Kind)
			}
			return tw.Flush()
		},
	}
}
