package worker

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/sandbox"
)

// NewCommand returns `kiln worker`.
func NewCommand() *cobra.Command {
	var cfg Config
	var tokenFile, hostIDs, logLevel string
	cmd := &cobra.Command{
		Use:   "worker --server URL --token T [--capacity N] [--platform OS/ARCH]",
		Short: "Run builds for a Kiln server on this machine (a remote worker)",
		Long: `Lease builds from a Kiln server started with --executor remote or local+remote,
run their steps in this machine's bubblewrap sandbox, stream the logs back and
push the outputs with a token scoped to each build's repository. The server
signs; no signing key is ever here. Create the token on the server with
` + "`kiln token create --worker NAME [--platform OS/ARCH]`" + ` (cluster admins).`,
		Example: `  kiln worker --server https://kiln.example:7070 --token-file /etc/kiln/worker.token --capacity 4
  KILN_WORKER_TOKEN=kiln_… kiln worker --server https://10.0.0.1:7070 --ca ca.crt --platform linux/arm64`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := completeConfig(&cfg, tokenFile, hostIDs, logLevel); err != nil {
				return err
			}
			w, err := New(cfg)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return w.Run(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Server, "server", os.Getenv("KILN_SERVER"), "the Kiln server's https URL (env KILN_SERVER)")
	f.StringVar(&cfg.Token, "token", os.Getenv("KILN_WORKER_TOKEN"), "the worker token (env KILN_WORKER_TOKEN; prefer --token-file: arguments are visible to other users)")
	f.StringVar(&tokenFile, "token-file", "", "a file holding the worker token")
	f.StringVar(&cfg.CAFile, "ca", "", "PEM file with the CA of the server's certificate (the server's DATA_DIR/tls/ca.crt)")
	f.IntVar(&cfg.Capacity, "capacity", 1, "builds run at once")
	f.StringVar(&cfg.Platform, "platform", "", "the os/arch this worker builds for (default this machine's; the token must allow it)")
	f.StringVar(&cfg.WorkDir, "work-dir", ".kiln-worker", "workspaces and unpacked step images")
	f.StringVar(&hostIDs, "sandbox-host-ids", os.Getenv("KILN_SANDBOX_HOST_IDS"), "host uids and gids steps run as when run as root, FIRST:COUNT (distinct per worker on one host)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}

func completeConfig(cfg *Config, tokenFile, hostIDs, logLevel string) error {
	var l slog.Level
	if err := l.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: expected debug, info, warn or error", logLevel)
	}
	cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
	if tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return fmt.Errorf("--token-file: %w", err)
		}
		cfg.Token, cfg.TokenFile = strings.TrimSpace(string(b)), tokenFile
	}
	if cfg.Platform != "" && !v1alpha1.ValidPlatform(cfg.Platform) {
		return fmt.Errorf("--platform %q: want os/arch such as linux/amd64", cfg.Platform)
	}
	if cfg.Capacity < 1 {
		return fmt.Errorf("--capacity %d: want at least 1", cfg.Capacity)
	}
	if hostIDs != "" {
		ids, err := sandbox.ParseHostIDs(hostIDs)
		if err != nil {
			return fmt.Errorf("--sandbox-host-ids: %w", err)
		}
		cfg.SandboxHostIDs = ids
	}
	return nil
}
