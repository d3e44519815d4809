// Package up is the `kiln up` command: flags and environment to a
// server.Config, start the factory, optionally the demo (internal/demo) and
// manifests to apply, run until Ctrl-C or SIGTERM.
package up

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/kilnbuild/kiln/internal/cli"
	"github.com/kilnbuild/kiln/internal/client"
	"github.com/kilnbuild/kiln/internal/demo"
	"github.com/kilnbuild/kiln/internal/sandbox"
	"github.com/kilnbuild/kiln/internal/server"
)

// NewCommand returns `kiln up`.
func NewCommand() *cobra.Command {
	var (
		cfg         server.Config
		logLevel    string
		logFormat   string
		userConfig  bool
		apply       []string
		withDemo    bool
		pprofListen string
		hostIDs     string
		cacheSize   string
		kube        kubeFlags
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run the factory on this machine (API, database, controllers)",
		Long: `Run a Kiln factory with embedded defaults: the API on localhost, a SQLite
database and all state under one data directory. On first start it creates an
admin user and token and writes a client config so the CLI works at once.

Use --database postgres://... to run on PostgreSQL. Several replicas may share
one PostgreSQL database: give them one --shared-dir and an external
--push-registry (docs/scale.md).`,
		Example: `  kiln up
  kiln up --data-dir /var/lib/kiln --listen 0.0.0.0:7070
  kiln up --database postgres://kiln@db.example.com/kiln
  kiln up --executor kubernetes --kubeconfig ~/.kube/config --namespace kiln-builds`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(logLevel, logFormat)
			if err != nil {
				return err
			}
			cfg.Log = log
			if hostIDs != "" {
				if cfg.SandboxHostIDs, err = sandbox.ParseHostIDs(hostIDs); err != nil {
					return fmt.Errorf("--sandbox-host-ids: %w", err)
				}
			}
			if cfg.BuildrootCacheSize, err = parseCacheSize(cacheSize); err != nil {
				return fmt.Errorf("--buildroot-cache-size: %w", err)
			}
			if cfg.Executor, cfg.Kubernetes, err = kube.config(); err != nil {
				return err
			}
			if withDemo {
				cfg.AllowFileSources = true
			}
			cfg.PushRegistry.Username = os.Getenv("KILN_PUSH_REGISTRY_USERNAME")
			cfg.PushRegistry.Password = os.Getenv("KILN_PUSH_REGISTRY_PASSWORD")
			if userConfig {
				cfg.UserConfig = client.UserConfigPath()
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if pprofListen != "" {
				if err := servePprof(ctx, pprofListen, log); err != nil {
					return err
				}
			}
			f, err := server.Start(ctx, cfg)
			if err != nil {
				return err
			}
			if withDemo {
				if err := demo.Run(ctx, demo.RunOptions{Registry: f.Registry, DataDir: cfg.DataDir,
					Apply: applier(cmd, cfg.DataDir), Out: cmd.OutOrStdout()}); err != nil {
					log.Error("demo", "err", err)
				}
			}
			if err := applyManifests(ctx, cmd, cfg.DataDir, apply); err != nil {
				log.Error("applying manifests", "err", err)
			}
			select {
			case <-ctx.Done():
			case err := <-f.Fatal():
				log.Error("stopping", "err", err)
				_ = f.Stop()
				return err
			}
			log.Info("shutting down")
			return f.Stop()
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", envOr("KILN_DATA_DIR", ".kiln"), "directory holding all state (env KILN_DATA_DIR)")
	f.StringVar(&cfg.Listen, "listen", envOr("KILN_LISTEN", "127.0.0.1:7070"), "API listen address (env KILN_LISTEN)")
	f.StringVar(&cfg.Database, "database", os.Getenv("KILN_DATABASE"), "postgres:// URL or SQLite file (default DATA_DIR/kiln.db; env KILN_DATABASE)")
	f.StringVar(&cfg.SharedDir, "shared-dir", os.Getenv("KILN_SHARED_DIR"),
		"directory every replica on one PostgreSQL database shares: logs, kept evidence, static release repositories, the Secret key and the default signing key (default DATA_DIR; env KILN_SHARED_DIR)")
	f.DurationVar(&cfg.LeaseTTL, "lease-ttl", 0, "time to live of the leader lease and build claims: a dead replica's work is taken over within about 1.5x this (default 8s)")
	f.StringVar(&cfg.ReplicaID, "replica-id", os.Getenv("KILN_REPLICA_ID"),
		"this replica's name in leases: stable across restarts, unique among replicas (default: host name and a digest of DATA_DIR; env KILN_REPLICA_ID)")
	f.StringVar(&logLevel, "log-level", envOr("KILN_LOG_LEVEL", "info"), "debug, info, warn or error")
	f.StringVar(&logFormat, "log-format", envOr("KILN_LOG_FORMAT", "text"), "text or json")
	f.StringVar(&cfg.TLSCertFile, "tls-cert", os.Getenv("KILN_TLS_CERT"), "server certificate (PEM); default: generated, signed by a CA in DATA_DIR/tls")
	f.StringVar(&cfg.TLSKeyFile, "tls-key", os.Getenv("KILN_TLS_KEY"), "server certificate key (PEM)")
	f.StringSliceVar(&cfg.TLSSANs, "tls-san", nil, "extra host names/IPs for the generated certificate")
	f.StringArrayVarP(&apply, "apply", "f", nil, "after start, apply these manifest files or directories (like kiln apply -R -f)")
	f.BoolVar(&withDemo, "demo", false, "create demo git repositories and an application, and show them building (allows file:// sources)")
	f.BoolVar(&cfg.AllowFileSources, "allow-file-sources", false, "allow file:// git repositories (single-user machines only)")
	f.StringVar(&cfg.PushRegistry.Registry, "push-registry", os.Getenv("KILN_PUSH_REGISTRY"),
		"push build artifacts to this registry (host[:port][/prefix]) instead of the embedded one; credentials from KILN_PUSH_REGISTRY_USERNAME and KILN_PUSH_REGISTRY_PASSWORD")
	f.BoolVar(&cfg.PushRegistry.PlainHTTP, "push-registry-plain-http", false, "talk plain HTTP to --push-registry (local test registries only)")
	f.IntVar(&cfg.BuildWorkers, "build-workers", 0, "concurrent builds (default: number of cores)")
	f.DurationVar(&cfg.BatchWindow, "batch-window", 0, "how long a new commit waits for other components' commits, to build them as one group in dependency order (default 1s; negative: no batching)")
	f.IntVar(&cfg.MaxBuildsPerNamespace, "max-builds-per-namespace", 0, "concurrent builds of one namespace (0: only --build-workers limits them; a Namespace's kiln.dev/max-concurrent-builds annotation can lower it)")
	f.StringVar(&cfg.SigningKey, "signing-key", os.Getenv("KILN_SIGNING_KEY"),
		"PEM file with the builder's ECDSA P-256 private key (default DATA_DIR/signing/cosign.key, created on first start; env KILN_SIGNING_KEY)")
	f.StringVar(&cfg.BuilderID, "builder-id", os.Getenv("KILN_BUILDER_ID"),
		"SLSA builder id written into provenance; verifiers pin it (default "+server.DefaultBuilderID+"; env KILN_BUILDER_ID)")
	f.StringVar(&hostIDs, "sandbox-host-ids", os.Getenv("KILN_SANDBOX_HOST_IDS"),
		"host uids and gids build steps run as when Kiln runs as root, FIRST:COUNT, one per build or test run (default 2000000000:65536; must not overlap /etc/passwd, /etc/group, /etc/subuid or /etc/subgid; env KILN_SANDBOX_HOST_IDS)")
	f.StringVar(&cacheSize, "buildroot-cache-size", envOr("KILN_BUILDROOT_CACHE_SIZE", formatSize(server.DefaultBuildrootCacheSize)),
		"disk the composed buildroots (DATA_DIR/buildroots) may take, e.g. 20GiB or 500MB: beyond it the least recently used ones no build is using are deleted (0: no bound; env KILN_BUILDROOT_CACHE_SIZE)")
	kube.register(f)
	f.BoolVar(&userConfig, "write-user-config", true, "on first start also write ~/.config/kiln/config.yaml")
	f.StringVar(&pprofListen, "pprof-listen", "", "profiling only: serve Go's /debug/pprof/ on this loopback address (unauthenticated, so loopback only)")
	_ = f.MarkHidden("pprof-listen")
	f.DurationVar(&cfg.WorkerLease, "worker-lease", 0, "how long a remote worker's build lease lasts unless renewed; a lapsed lease is retried once elsewhere (default 15s)")
	f.BoolVar(&cfg.NoopExecutor, "noop-executor", false, "benchmarks only: builds run nothing and succeed after --noop-build-time without an artifact")
	f.DurationVar(&cfg.NoopBuildTime, "noop-build-time", 0, "benchmarks only: how long a build of --noop-executor takes")
	_ = f.MarkHidden("noop-executor")
	_ = f.MarkHidden("noop-build-time")
	return cmd
}

// applyManifests runs `kiln apply -R -f PATH...` against the new factory
// and prints what to try next.
func applyManifests(ctx context.Context, cmd *cobra.Command, dataDir string, paths []string) error {
	if len(paths) == 0 {
		return nil
	}
	if err := applier(cmd, dataDir)(ctx, paths...); err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), "\nKiln is running. In another terminal, from this directory:\n"+
		"  go run ./cmd/kiln get applications,components -A\n"+
		"  go run ./cmd/kiln describe component libgreet -n team-greet\n"+
		"  go run ./cmd/kiln kubeconfig > kubeconfig && KUBECONFIG=kubeconfig kubectl get components -A\n"+
		"Stop it with Ctrl-C.")
	return nil
}

// applier applies manifests with the client config of the factory in
// dataDir, printing where cmd prints.
func applier(cmd *cobra.Command, dataDir string) func(ctx context.Context, paths ...string) error {
	config := filepath.Join(dataDir, server.ClientConfigName)
	return func(ctx context.Context, paths ...string) error {
		return cli.ApplyFiles(ctx, config, paths, cmd.OutOrStdout(), cmd.ErrOrStderr())
	}
}

// parseCacheSize reads a size in bytes with an optional unit (20GiB,
// 500MB, 1024) as server.Config.BuildrootCacheSize: 0 means no bound.
func parseCacheSize(s string) (int64, error) {
	n, err := humanize.ParseBytes(s)
	if err != nil || n > math.MaxInt64 {
		return 0, fmt.Errorf("%q is not a size: give bytes with a unit, e.g. 20GiB or 500MB, or 0 for no bound", s)
	}
	if n == 0 {
		return -1, nil
	}
	return int64(n), nil
}

func formatSize(n int64) string { return strings.ReplaceAll(humanize.IBytes(uint64(n)), " ", "") }

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func newLogger(level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: expected debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: expected text or json", format)
}
