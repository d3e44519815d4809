package cli

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kilnbuild/kiln/internal/aptrepo"
)

func newRepoCommand(g *globals) *cobra.Command {
	repo := &cobra.Command{Use: "repo", Short: "Show the package repositories Kiln publishes"}
	var output string
	show := &cobra.Command{
		Use:   "show APP",
		Short: "Print an Application's apt repository: URL, suite, components, architectures, signing key",
		Example: "  kiln repo show greet -n team -o json\n" +
			"  kiln keys public --format openpgp -n team | sudo tee /etc/apt/keyrings/kiln-team.asc\n" +
			"  kiln repo show greet -n team",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := oneOf(output, "", outTable, outJSON, outYAML); err != nil {
				return err
			}
			c, err := g.client(cmd)
			if err != nil {
				return err
			}
			var info aptrepo.Info
			data, err := c.Do(cmd.Context(), http.MethodGet, "/apt-repositories/"+url.PathEscape(g.ns())+"/"+url.PathEscape(args[0]), nil, nil)
			if err != nil {
				return err
			}
			if err := decodeJSON(data, &info); err != nil {
				return err
			}
			return printRepo(cmd, output, info)
		},
	}
	show.Flags().StringVarP(&output, "output", "o", "", "output format: table (default), yaml or json")
	repo.AddCommand(show)
	return repo
}

func printRepo(cmd *cobra.Command, output string, info aptrepo.Info) error {
	w := cmd.OutOrStdout()
	switch output {
	case outJSON:
		return printJSON(w, info)
	case outYAML:
		return printYAML(w, info)
	}
	tw := newTabWriter(w)
	fmt.Fprintln(tw, "APPLICATION\tURL\tSUITE\tCOMPONENTS\tARCHITECTURES\tPUBLIC\tFINGERPRINT")
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\t%s\n", info.Application, info.URL, info.Suite,
		strings.Join(info.Components, ","), strings.Join(info.Architectures, ","), info.Public, info.Fingerprint)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%s\n", info.SourcesLine)
	if info.Note != "" {
		fmt.Fprintf(w, "note: %s\n", info.Note)
	}
	return nil
}

// oneOf refuses an output format outside allowed (allowed[0] is the
// default, "").
func oneOf(output string, allowed ...string) error {
	for _, a := range allowed {
		if output == a {
			return nil
		}
	}
	return fmt.Errorf("unknown output format %q: use %s", output, strings.Join(allowed[1:], ", "))
}
