package cli

import (
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/kilnbuild/kiln/internal/client"
)

// tokensResource is served outside discovery (Token is an internal kind).
var tokensResource = client.Resource{Group: "kiln.dev", Version: "v1alpha1", Name: "tokens",
	SingularName: "token", Kind: "Token"}

const tokenRequestsPath = "/apis/kiln.dev/v1alpha1/tokenrequests"

func newTokenCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke API tokens",
	}
	cmd.AddCommand(newTokenCreateCommand(g), newTokenListCommand(g), newTokenRevokeCommand(g))
	return cmd
}

type tokenResponse struct {
	Name      string `json:"name"`
	Token     string `json:"token"`
	Subject   string `json:"subject"`
	ExpiresAt string `json:"expiresAt"`
}

func newTokenCreateCommand(g *globals) *cobra.Command {
	var subject, description, expires, worker string
	var platforms []string
	cmd := &cobra.Command{
		Use:   "create [--for USER|system:serviceaccount:NS:NAME | --worker NAME [--platform OS/ARCH]] [--description D] [--expires 720h]",
		Short: "Create a token (printed once)",
		Long: "Create a bearer token for yourself, a user (cluster admins) or a service account\n" +
			"(namespace admins). The token is printed alone on stdout, once: store it right away.",
		Example: "  kiln token create --description laptop\n" +
			"  kiln token create --for system:serviceaccount:team-a:ci --description ci --expires 720h\n" +
			"  kiln token create --worker builder-7 --platform linux/arm64   # for kiln worker --token (cluster admins)",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if expires != "" {
				if d, err := time.ParseDuration(expires); err != nil || d <= 0 {
					return fmt.Errorf("--expires %q: give a positive duration such as 720h or 90m", expires)
				}
			}
			body, err := tokenRequestBody(subject, description, expires, worker, platforms)
			if err != nil {
				return err
			}
			c, err := g.client(cmd)
			if err != nil {
				return err
			}
			data, err := c.Do(cmd.Context(), http.MethodPost, tokenRequestsPath, body, nil)
			if err != nil {
				return err
			}
			var resp tokenResponse
			if err := decodeJSON(data, &resp); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), resp.Token)
			exp := "never expires"
			if resp.ExpiresAt != "" {
				exp = "expires " + resp.ExpiresAt
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Token %s for %s (%s). It is shown only once: store it now.\n"+
				"Revoke it with `kiln token revoke %s`.\n", resp.Name, resp.Subject, exp, resp.Name)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&subject, "for", "", "subject: a user name or system:serviceaccount:NAMESPACE:NAME (default: you)")
	f.StringVar(&description, "description", "", "what the token is for")
	f.StringVar(&expires, "expires", "", "lifetime, e.g. 720h (default: never expires)")
	f.StringVar(&worker, "worker", "", "a remote worker's registration token (`kiln worker --token`); cluster admins only")
	f.StringSliceVar(&platforms, "platform", nil, "with --worker: the os/arch platforms the worker may build for (default: the server's)")
	return cmd
}

// tokenRequestBody is the TokenRequest of `kiln token create`.
func tokenRequestBody(subject, description, expires, worker string, platforms []string) (map[string]any, error) {
	body := map[string]any{"subject": subject, "description": description, "expiresIn": expires}
	switch {
	case worker != "" && subject != "":
		return nil, fmt.Errorf("--worker and --for name the subject both: give one")
	case worker == "" && len(platforms) > 0:
		return nil, fmt.Errorf("--platform applies to worker tokens only: add --worker NAME")
	case worker != "":
		body["subject"], body["platforms"] = "system:worker:"+worker, platforms
	}
	return body, nil
}

func newTokenListCommand(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the tokens you may see (yours, your service accounts'; all for cluster admins)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			c, err := g.client(cmd)
			if err != nil {
				return err
			}
			list, err := c.List(cmd.Context(), tokensResource, "", client.ListOptions{})
			if err != nil {
				return err
			}
			switch output {
			case outYAML, outJSON, outName:
				return printObjects(cmd.OutOrStdout(), output, list.Items, func(o client.Object) string {
					return tokensResource.KindName(o.Name())
				}, false)
			}
			return printTokens(cmd, list.Items, g.opts.now())
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: table, yaml, json or name")
	return cmd
}

func printTokens(cmd *cobra.Command, items []client.Object, now time.Time) error {
	if len(items) == 0 {
		fmt.Fprintln(cmd.ErrOrStderr(), "No tokens found.")
		return nil
	}
	tw := newTabWriter(cmd.OutOrStdout())
	fmt.Fprintln(tw, "NAME\tSUBJECT\tDESCRIPTION\tEXPIRES\tLAST USED\tAGE")
	for _, t := range items {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Name(), t.String("spec", "subject"),
			t.String("spec", "description"), tokenTime(t.String("spec", "expiresAt"), "never", now),
			tokenTime(t.String("status", "lastUsed"), "never", now), formatDate(t.String("metadata", "creationTimestamp"), now))
	}
	return tw.Flush()
}

// tokenTime shows a time as a date; empty as none.
func tokenTime(ts, none string, now time.Time) string {
	t, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		return none
	}
	if t.Before(now) {
		return t.UTC().Format("2006-01-02 15:04") + " (" + age(now, t) + " ago)"
	}
	return t.UTC().Format("2006-01-02 15:04")
}

func newTokenRevokeCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "revoke NAME...",
		Aliases: []string{"delete", "rm"},
		Short:   "Revoke tokens (they stop working at once)",
		Example: "  kiln token revoke tok-abc123",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(cmd)
			if err != nil {
				return err
			}
			for _, name := range args {
				if err := c.Delete(cmd.Context(), tokensResource, "", name, nil); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "token %q revoked\n", name)
			}
			return nil
		},
	}
}
