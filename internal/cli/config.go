package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/kilnbuild/kiln/internal/client"
)

func newConfigCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show or change the client config (server, token, namespace)",
		Long: "Show or change the client config. It is read from --config, $KILN_CONFIG,\n" +
			"./.kiln/client.yaml (written by `kiln up`) or ~/.config/kiln/config.yaml, the first\n" +
			"that exists; the set-* commands change that file (or create ~/.config/kiln/config.yaml).",
	}
	cmd.AddCommand(newConfigViewCommand(g),
		newConfigSetCommand(g, "set-namespace NAMESPACE", "Set the current namespace", setNamespace),
		newConfigSetCommand(g, "set-server URL", "Set the server URL", setServer),
		newConfigSetCommand(g, "set-token TOKEN", "Set the bearer token", setToken),
	)
	return cmd
}

func newConfigViewCommand(g *globals) *cobra.Command {
	var raw bool
	cmd := &cobra.Command{
		Use:   "view [--raw]",
		Short: "Show the effective config (the token is hidden unless --raw)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.config()
			if err != nil {
				return err
			}
			shown := *cfg
			shown.Namespace = g.ns()
			if shown.Token != "" && !raw {
				shown.Token = "REDACTED"
			}
			data, err := yaml.Marshal(shown)
			if err != nil {
				return err
			}
			if g.cfgPath != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "# %s\n", g.cfgPath)
			}
			_, err = cmd.OutOrStdout().Write(data)
			return err
		},
	}
	cmd.Flags().BoolVar(&raw, "raw", false, "show the token")
	return cmd
}

type configSetter func(cfg *client.Config, value string) (string, error)

func newConfigSetCommand(g *globals, use, short string, set configSetter) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, cfg, err := g.editableConfig()
			if err != nil {
				return err
			}
			what, err := set(cfg, args[0])
			if err != nil {
				return err
			}
			if err := client.WriteConfig(path, cfg); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s in %s\n", what, path)
			return nil
		},
	}
}

// editableConfig returns the config file to change and its content: the
// file in use, else --config or $KILN_CONFIG, else the user config path.
func (g *globals) editableConfig() (string, *client.Config, error) {
	cfg, path, err := client.FindConfig(g.configPath)
	switch {
	case err == nil:
		return path, cfg, nil
	case g.configPath != "" && errors.Is(err, fs.ErrNotExist):
		return g.configPath, &client.Config{}, nil
	case !errors.Is(err, client.ErrNoConfig):
		return "", nil, err
	}
	if p := os.Getenv(client.EnvConfig); p != "" {
		return p, &client.Config{}, nil
	}
	p := client.UserConfigPath()
	if p == "" {
		return "", nil, errors.New("cannot find a home directory for the config: pass --config FILE")
	}
	return p, &client.Config{}, nil
}

func setNamespace(cfg *client.Config, ns string) (string, error) {
	cfg.Namespace = ns
	return fmt.Sprintf("Namespace set to %q", ns), nil
}

func setServer(cfg *client.Config, server string) (string, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("server %q: give a URL such as https://127.0.0.1:7070", server)
	}
	cfg.Server = server
	return fmt.Sprintf("Server set to %s", server), nil
}

func setToken(cfg *client.Config, token string) (string, error) {
	cfg.Token = token
	return "Token set", nil
}
