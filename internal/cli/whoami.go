package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/spf13/cobra"
)

const whoamiPath = "/apis/kiln.dev/v1alpha1/whoami"

type whoamiResponse struct {
	User         string            `json:"user"`
	ClusterAdmin bool              `json:"clusterAdmin"`
	Bindings     map[string]string `json:"bindings"`
}

func newWhoamiCommand(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Show who the token authenticates as, and its roles per namespace",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client(cmd)
			if err != nil {
				return err
			}
			data, err := c.Do(cmd.Context(), http.MethodGet, whoamiPath, nil, nil)
			if err != nil {
				return err
			}
			var who whoamiResponse
			if err := decodeJSON(data, &who); err != nil {
				return err
			}
			switch output {
			case outJSON:
				return printJSON(cmd.OutOrStdout(), who)
			case outYAML:
				return printYAML(cmd.OutOrStdout(), who)
			case "":
				return printWhoami(cmd, who)
			}
			return fmt.Errorf("unknown output format %q: use yaml or json", output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: yaml or json")
	return cmd
}

func printWhoami(cmd *cobra.Command, who whoamiResponse) error {
	tw := newTabWriter(cmd.OutOrStdout())
	admin := "no"
	if who.ClusterAdmin {
		admin = "yes"
	}
	fmt.Fprintf(tw, "User:\t%s\n", who.User)
	fmt.Fprintf(tw, "Cluster admin:\t%s\n", admin)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(who.Bindings) == 0 {
		fmt.Fprintln(cmd.OutOrStdout(), "Namespaces:     <none>")
		return nil
	}
	fmt.Fprintln(cmd.OutOrStdout())
	fmt.Fprintln(tw, "NAMESPACE\tROLES")
	for _, ns := range sortedKeys(who.Bindings) {
		fmt.Fprintf(tw, "%s\t%s\n", ns, strings.ReplaceAll(who.Bindings[ns], ",", ", "))
	}
	return tw.Flush()
}

func decodeJSON(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("unexpected answer from the server: %w", err)
	}
	return nil
}
