package cli

import (
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"runtime"

	"github.com/spf13/cobra"
)

const loginCodePath = "/ui/logincode"

func newUICommand(g *globals) *cobra.Command {
	var printOnly bool
	cmd := &cobra.Command{
		Use:   "ui",
		Short: "Open the web UI, signed in as this client's user",
		Long: `Open the web UI in a browser, signed in as the user of this client's token.

The URL carries a single-use login code valid for 60 seconds, in its fragment
(never sent to the server, never logged): the page exchanges it for a session
cookie and removes it from the address bar. The token itself never leaves
this machine's config. With --print the URL is only printed.`,
		Example: `  kiln ui
  kiln ui --print -n demo`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			link, err := uiLoginURL(cmd, g)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), link)
			if printOnly {
				return nil
			}
			if err := openBrowser(link); err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "could not open a browser (%v): open the URL above within 60 seconds\n", err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&printOnly, "print", false, "only print the URL")
	return cmd
}

// uiLoginURL asks the server for a login code and returns the page URL.
func uiLoginURL(cmd *cobra.Command, g *globals) (string, error) {
	c, err := g.client(cmd)
	if err != nil {
		return "", err
	}
	data, err := c.Do(cmd.Context(), http.MethodPost, loginCodePath, nil, nil)
	if err != nil {
		return "", fmt.Errorf("asking for a login code: %w", err)
	}
	var resp struct {
		Code string `json:"code"`
	}
	if err := decodeJSON(data, &resp); err != nil {
		return "", err
	}
	frag := url.Values{"code": {resp.Code}}
	if ns := g.ns(); ns != "default" {
		frag.Set("ns", ns)
	}
	return c.Config().Server + "/login#" + frag.Encode(), nil
}

func openBrowser(link string) error {
	name := "xdg-open"
	if runtime.GOOS == "darwin" {
		name = "open"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return err
	}
	return exec.Command(path, link).Start()
}
