package cli

import (
	"fmt"
	"net/http"

	"github.com/spf13/cobra"
)

func newVersionCommand(g *globals) *cobra.Command {
	var clientOnly bool
	cmd := &cobra.Command{
		Use:   "version [--client]",
		Short: "Show the client and server versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "Client Version: %s\n", g.opts.version)
			if clientOnly {
				return nil
			}
			c, err := g.client(cmd)
			if err != nil {
				return err
			}
			data, err := c.Do(cmd.Context(), http.MethodGet, "/version", nil, nil)
			if err != nil {
				return err
			}
			var v struct {
				GitVersion string `json:"gitVersion"`
			}
			if err := decodeJSON(data, &v); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Server Version: %s\n", v.GitVersion)
			return nil
		},
	}
	cmd.Flags().BoolVar(&clientOnly, "client", false, "show only the client version")
	return cmd
}
