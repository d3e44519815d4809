// Package cli implements the kiln command line: kubectl-style verbs (apply,
// get, describe, delete, create) plus Kiln's own (token, kubeconfig,
// whoami, config, version) over the REST client in internal/client. One
// file per verb.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kilnbuild/kiln/internal/client"
)

// globals holds the persistent flags and what is derived from them, and
// the root command's options. Each root command has its own.
type globals struct {
	opts options

	configPath string
	server     string
	token      string
	namespace  string
	verbose    bool
	caFile     string
	insecure   bool

	cfg     *client.Config
	cfgPath string
	c       *client.Client
}

// NewRootCommand returns the kiln command with every client verb, `graph`
// with its offline planner and `run`. The caller may add more (e.g. `up`)
// with AddCommand. Errors are returned, not printed (SilenceErrors): run it
// with Execute, or print the error yourself. Root commands share nothing:
// build and run as many at once as you like.
func NewRootCommand(opts ...Option) *cobra.Command {
	g := &globals{opts: newOptions(opts)}
	root := &cobra.Command{
		Use:   "kiln",
		Short: "Kiln builds, tests and releases your software from a Kubernetes-style API",
		Long: "Kiln builds, tests and releases your software from a Kubernetes-style API.\n\n" +
			"Start a server with `kiln up`, then describe your application with YAML and `kiln apply -f`.\n" +
			"The client reads its server, token and namespace from --config, $KILN_CONFIG,\n" +
			"./.kiln/client.yaml or ~/.config/kiln/config.yaml (the first that exists).",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.configPath, "config", "", "client config file (default: $KILN_CONFIG, ./.kiln/client.yaml, ~/.config/kiln/config.yaml)")
	pf.StringVar(&g.server, "server", "", "Kiln server URL, e.g. https://127.0.0.1:7070 (overrides the config)")
	pf.StringVar(&g.token, "token", "", "bearer token (overrides the config)")
	pf.StringVarP(&g.namespace, "namespace", "n", "", "namespace (default: the config's namespace, else \"default\")")
	pf.BoolVarP(&g.verbose, "verbose", "v", false, "log HTTP requests to stderr")
	pf.StringVar(&g.caFile, "certificate-authority", "", "PEM file of the CA that signed the server's certificate (overrides the config)")
	pf.BoolVar(&g.insecure, "insecure-skip-tls-verify", false, "do not check the server's certificate (insecure; for tests)")
	root.AddCommand(
		newApplyCommand(g), newGetCommand(g), newDescribeCommand(g), newDeleteCommand(g),
		newCreateCommand(g), newAPIResourcesCommand(g), newTokenCommand(g), newKubeconfigCommand(g),
		newWhoamiCommand(g), newConfigCommand(g), newVersionCommand(g),
		newBuildCommand(g), newLogsCommand(g), newCancelCommand(g),
		newKeysCommand(g), newRepoCommand(g), newVerifyCommand(g), newWhyCommand(g), newGraphCommand(g),
		newReleaseCommand(g), newTestCommand(g), newRunCommand(g), newTraceCommand(g), newUICommand(g),
	)
	root.AddCommand(newEvidenceCommands(g)...)
	root.AddCommand(newImportCommand(g))
	return root
}

// Execute runs root with a context cancelled by Ctrl-C or SIGTERM, prints
// any error to stderr kubectl-style and returns the process exit code.
func Execute(root *cobra.Command) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := root.ExecuteContext(ctx); err != nil {
		PrintError(root.ErrOrStderr(), err)
		return 1
	}
	return 0
}

// PrintError writes err as kubectl does: server errors as they are
// ("Error from server (NotFound): ..."), others prefixed with "error: ".
func PrintError(w io.Writer, err error) {
	msg := err.Error()
	if !strings.HasPrefix(msg, "Error from server") {
		msg = "error: " + msg
	}
	fmt.Fprintln(w, msg)
}

// config returns the effective client config: the config file (if any)
// overridden by --server, --token and --namespace.
func (g *globals) config() (*client.Config, error) {
	if g.cfg != nil {
		return g.cfg, nil
	}
	cfg, path, err := client.FindConfig(g.configPath)
	switch {
	case err == nil:
	case errors.Is(err, client.ErrNoConfig) && g.server != "":
		cfg = &client.Config{}
	default:
		return nil, err
	}
	if g.server != "" {
		cfg.Server = strings.TrimRight(g.server, "/")
	}
	if g.token != "" {
		cfg.Token = g.token
	}
	if g.namespace != "" {
		cfg.Namespace = g.namespace
	}
	if g.caFile != "" {
		cfg.CertificateAuthority, cfg.CertificateAuthorityData = g.caFile, nil
	}
	if g.insecure {
		cfg.InsecureSkipTLSVerify = true
	}
	if cfg.Server == "" {
		return nil, fmt.Errorf("config file %s names no server: set one with `kiln config set-server URL` or pass --server", path)
	}
	g.cfg, g.cfgPath = cfg, path
	return cfg, nil
}

// client returns the REST client, built once.
func (g *globals) client(cmd *cobra.Command) (*client.Client, error) {
	if g.c != nil {
		return g.c, nil
	}
	cfg, err := g.config()
	if err != nil {
		return nil, err
	}
	g.c = client.New(cfg)
	g.c.UserAgent = "kiln/" + g.opts.version
	if g.verbose {
		g.c.Log = cmd.ErrOrStderr()
	}
	return g.c, nil
}

// ns returns the namespace to use: --namespace, else the config's, else
// "default".
func (g *globals) ns() string {
	if g.namespace != "" {
		return g.namespace
	}
	if g.cfg != nil && g.cfg.Namespace != "" {
		return g.cfg.Namespace
	}
	return "default"
}
