// Package server wires a whole Kiln factory together — store, registry,
// controllers, API — and runs it until its context ends. `kiln up` calls Run;
// tests call Start for an in-process server.
package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kilnbuild/kiln/internal/apiserver"
	"github.com/kilnbuild/kiln/internal/aptrepo"
	"github.com/kilnbuild/kiln/internal/attest"
	"github.com/kilnbuild/kiln/internal/auth"
	"github.com/kilnbuild/kiln/internal/controller"
	"github.com/kilnbuild/kiln/internal/executor"
	"github.com/kilnbuild/kiln/internal/gc"
	"github.com/kilnbuild/kiln/internal/integration"
	"github.com/kilnbuild/kiln/internal/lease"
	"github.com/kilnbuild/kiln/internal/logstore"
	"github.com/kilnbuild/kiln/internal/oci"
	"github.com/kilnbuild/kiln/internal/registry"
	"github.com/kilnbuild/kiln/internal/regtoken"
	"github.com/kilnbuild/kiln/internal/sandbox"
	"github.com/kilnbuild/kiln/internal/secret"
	"github.com/kilnbuild/kiln/internal/store"
	"github.com/kilnbuild/kiln/internal/store/sqlstore"
	"github.com/kilnbuild/kiln/internal/ui"
)

// Config configures a factory. Zero values select the embedded defaults.
type Config struct {
	// DataDir holds all state: database, keys, client config (default ./.kiln).
	DataDir string
	// SharedDir holds what every replica on one PostgreSQL database must
	// read and write alike: build, test and release logs, kept evidence,
	// static release repositories, the Secret sealing key and (by default)
	// the signing key. Replicas must point at one shared directory (a
	// network file system between hosts); default DataDir (one replica).
	SharedDir string
	// ReplicaID names this replica in leases: stable across its restarts,
	// different from every other replica's (default: the host name and a
	// digest of DataDir).
	ReplicaID string
	// LeaseTTL is the time to live of the leader lease and of build
	// claims (default lease.DefaultTTL): a dead replica's work is taken
	// over within about 1.5 LeaseTTL; renewals cost one write per lease
	// every LeaseTTL/4.
	LeaseTTL time.Duration
	// NoopExecutor makes builds run nothing: each attempt waits
	// NoopBuildTime and succeeds without an artifact (control-plane
	// benchmarks: kiln bench replicas).
	NoopExecutor  bool
	NoopBuildTime time.Duration
	// Listen is the API address (default 127.0.0.1:7070; port 0 picks one).
	Listen string
	// Database is a postgres:// URL or a SQLite path (default DataDir/kiln.db).
	Database string
	// UserConfig, when set, also receives the client config on first start
	// (e.g. ~/.config/kiln/config.yaml).
	UserConfig string
	// TLSCertFile and TLSKeyFile replace the generated server certificate.
	TLSCertFile, TLSKeyFile string
	// TLSSANs are extra host names or IPs for the generated certificate.
	TLSSANs []string
	// AllowFileSources permits file:// git repositories (single-user
	// machines; a tenant could otherwise read repositories on this disk).
	AllowFileSources bool
	// BuildWorkers bounds concurrent builds (default: number of cores).
	BuildWorkers int
	// BatchWindow is how long a new commit waits for commits of other
	// components of its application, to build them as one group
	// (0: trigger.DefaultBatchWindow; negative: no batching).
	BatchWindow time.Duration
	// MaxBuildsPerNamespace bounds one namespace's concurrent builds
	// (0: only BuildWorkers does); fair share applies either way.
	MaxBuildsPerNamespace int
	// BuildrootCacheSize bounds the disk the composed buildroots take
	// (DataDir/buildroots): the least recently used ones no build holds
	// are evicted (0: DefaultBuildrootCacheSize; negative: unbounded).
	BuildrootCacheSize int64
	// RegistryNoSync skips fsync in the embedded registry (tests only).
	RegistryNoSync bool
	// PushRegistry, when set, receives build artifacts instead of the
	// embedded registry.
	PushRegistry PushRegistry
	// SigningKey is a PEM file with the builder's ECDSA P-256 private key
	// (default DataDir/signing/cosign.key, created on first start).
	SigningKey string
	// SandboxHostIDs are the host uids and gids build steps run as when the
	// server runs as root, one per run (zero: sandbox.DefaultHostIDs).
	SandboxHostIDs sandbox.HostIDs
	// Executor says where builds run: "local" (default: this server's
	// sandbox), "remote" (only on remote workers, `kiln worker`) or
	// "local+remote" (here while BuildWorkers slots are free, else on
	// workers; builds of another platform always on workers).
	Executor string
	// WorkerLease is how long a remote worker's build lease lasts unless
	// renewed (default remote.DefaultLeaseDuration).
	WorkerLease time.Duration
	// Kubernetes, when set, runs every pipeline's steps as Pods of a
	// cluster instead of in the bubblewrap sandbox (docs/kubernetes.md).
	Kubernetes *Kubernetes
	// BuilderID is the SLSA builder id written into provenance (default
	// https://kiln.dev/builder/v1); verifiers pin it.
	BuilderID string
	Version   string
	Log       *slog.Logger
}

func (c *Config) defaults() {
	if c.DataDir == "" {
		c.DataDir = ".kiln"
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:7070"
	}
	if c.Database == "" {
		c.Database = filepath.Join(c.DataDir, "kiln.db")
	}
	if c.Version == "" {
		c.Version = "v0.1.0-dev"
	}
	if c.SharedDir == "" {
		c.SharedDir = c.DataDir
	}
	if c.SigningKey == "" {
		c.SigningKey = filepath.Join(c.SharedDir, "signing", "cosign.key")
	}
	if c.BuilderID == "" {
		c.BuilderID = DefaultBuilderID
	}
	if c.BuildrootCacheSize == 0 {
		c.BuildrootCacheSize = DefaultBuildrootCacheSize
	}
	if c.Log == nil {
		c.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if c.Executor == "" {
		c.Executor = ExecutorLocal
	}
}

// Where builds run (Config.Executor).
const (
	ExecutorLocal       = "local"
	ExecutorRemote      = "remote"
	ExecutorLocalRemote = "local+remote"
)

func (c *Config) check() error {
	switch c.Executor {
	case ExecutorLocal:
		return nil
	case ExecutorRemote, ExecutorLocalRemote:
		if c.PushRegistry.Registry != "" {
			return fmt.Errorf("--executor %s needs the embedded registry (workers push with tokens scoped to one build's repository, which only it issues): drop --push-registry", c.Executor)
		}
		return nil
	}
	return fmt.Errorf("--executor %q: want local, remote or local+remote", c.Executor)
}

// PushRegistry is an external registry builds push to.
type PushRegistry struct {
	// Registry is host[:port][/prefix]; artifacts go to
	// Registry/<namespace>/<component>.
	Registry           string
	Username, Password string
	// PlainHTTP talks HTTP instead of HTTPS (local test registries only).
	PlainHTTP bool
}

// Kubernetes is the cluster the Kubernetes executor runs Pods in.
type Kubernetes struct {
	// Kubeconfig is the kubeconfig file (empty: in-cluster configuration).
	Kubeconfig string
	// Namespace is where the Pods run.
	Namespace string
	// HelperImage is an image with a static busybox, by digest (empty:
	// made from this host's busybox and pushed to the embedded registry).
	HelperImage string
	// NodeRegistry is how the cluster's nodes reach this server's registry
	// (host:port; default the server's own address).
	NodeRegistry string
	// NodeName pins the Pods to one node (clusters without a scheduler).
	NodeName string
}

// Factory is a running Kiln.
type Factory struct {
	URL        string
	AdminToken string
	// CAPEM is the CA that signed the server certificate (empty when the
	// operator supplied one).
	CAPEM    []byte
	Registry *registry.Registry
	Store    store.Store
	cfg      Config
	httpSrv  *http.Server
	oci      *oci.Registry
	// systemToken lets Kiln's own controllers push to the embedded registry;
	// it lives only in memory.
	systemToken string
	// pullTokens mints the registry tokens Kubernetes Pods pull with.
	pullTokens *regtoken.Issuer
	// logs keeps the logs of builds, tests and releases.
	logs *logstore.Store
	// tests runs integration scenarios (in goroutines, waited for on Stop).
	tests *integration.Controller
	// sandbox runs build steps; nil when it is unavailable.
	sandbox *sandbox.Bubblewrap
	// signer signs build evidence; its key never enters a sandbox.
	signer *attest.Signer
	// apt publishes Applications as apt repositories; authz checks who
	// reads the ones that are not public.
	apt   *aptrepo.Publisher
	authz *auth.Authorizer
	// holder is this process's id in leases (replica#incarnation); leases
	// the lease store (nil when the store has none).
	holder string
	leases lease.HolderRenewer
	// claims keeps the claims of the builds this replica runs.
	claims *lease.Session
	// fatal receives why the factory must stop (its leadership was lost).
	fatal  chan error
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start opens the store, bootstraps on first start, starts controllers and
// serves the API. Call Stop (or cancel ctx and Wait) to shut down.
func Start(ctx context.Context, cfg Config) (*Factory, error) {
	cfg.defaults()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	started := time.Now()
	if err := cfg.resolveDirs(); err != nil {
		return nil, err
	}
	st, err := sqlstore.Open(ctx, databaseURL(cfg.Database), store.Options{})
	if err != nil {
		return nil, fmt.Errorf("opening database %s: %w", redactURL(cfg.Database), err)
	}
	if err := secureDataDir(cfg.DataDir); err != nil {
		_ = st.Close()
		return nil, err
	}
	if err := secureSharedDir(cfg.SharedDir); err != nil {
		_ = st.Close()
		return nil, err
	}
	f, err := start(ctx, cfg, st)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	cfg.Log.Info("Kiln is ready", "api", f.URL, "data", cfg.DataDir, "database", redactURL(cfg.Database),
		"startup", time.Since(started).Round(time.Millisecond))
	return f, nil
}

func start(ctx context.Context, cfg Config, st store.Store) (*Factory, error) {
	key, err := secret.LoadOrCreateKey(filepath.Join(cfg.SharedDir, "keys", "secret.key"))
	if err != nil {
		return nil, err
	}
	sealer, err := secret.New(key)
	if err != nil {
		return nil, err
	}
	reg := registry.New(st, sealer)
	signer, err := attest.LoadOrCreateKey(cfg.SigningKey)
	if err != nil {
		return nil, fmt.Errorf("builder signing key: %w", err)
	}
	logs, err := logstore.Open(filepath.Join(cfg.SharedDir, "logs"))
	if err != nil {
		return nil, err
	}
	host, _, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("--listen %q: expected HOST:PORT, e.g. 127.0.0.1:7070", cfg.Listen)
	}
	tm, err := loadOrCreateTLS(filepath.Join(cfg.DataDir, "tls"), cfg.TLSCertFile, cfg.TLSKeyFile, certHosts(host, cfg.TLSSANs))
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w (is another Kiln running? use --listen to pick another address)", cfg.Listen, err)
	}
	f := &Factory{URL: "https://" + clientAddr(ln.Addr()), CAPEM: tm.caPEM, Registry: reg, Store: st, cfg: cfg, signer: signer, logs: logs}
	ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{tm.cert}, MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"}})
	if err := f.bootstrap(ctx); err != nil {
		_ = ln.Close()
		return nil, err
	}
	if err := f.serve(ln, reg, st); err != nil {
		_ = ln.Close()
		return nil, err
	}
	return f, nil
}

func (f *Factory) serve(ln net.Listener, reg *registry.Registry, st store.Store) error {
	runCtx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	authn, authz := auth.NewAuthenticator(st), auth.NewAuthorizer(st)
	f.authz = authz
	api := apiserver.New(apiserver.Config{
		Registry: reg, Authenticator: authn, Authorizer: authz, Log: f.cfg.Log, Version: f.cfg.Version,
		Sessions:     auth.NewSessions(st, authn),
		Logs:         f.logs,
		EvidencePath: func(ns, name, file string) string { return executor.EvidencePath(f.shared("evidence"), ns, name, file) },
		Builder:      apiserver.BuilderInfo{BuilderID: f.cfg.BuilderID, PublicKey: string(f.signer.PublicKeyPEM()), KeyID: f.signer.KeyID()},
	})
	mgr := controller.NewManager(reg, f.cfg.Log)
	if err := f.elect(mgr, st); err != nil {
		cancel()
		return err
	}
	if err := f.mountRegistry(api, authn, authz); err != nil {
		cancel()
		return err
	}
	api.Handle("/", ui.Handler(), true) // the web UI: static, public; its data comes from the API
	poller, exec, ctrls := f.wireBuilds(runCtx, api, reg, authn, mgr.Leading)
	tracer, err := f.wireTrace(api, reg, exec)
	if err != nil {
		cancel()
		return err
	}
	f.mountApt(api, authn, authz, exec.Runs)
	ctrls = append(ctrls, tracer, &gc.Controllers{Purgers: f.purgers(exec), Log: f.cfg.Log})
	for _, c := range ctrls {
		c.Register(mgr)
	}
	f.httpSrv = &http.Server{Handler: api.Handler(), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return runCtx }}
	mgr.OnLead(func(ctx context.Context) { _ = poller.Run(ctx) })
	if f.claims != nil {
		f.wg.Add(1)
		go func() { defer f.wg.Done(); f.claims.Run(runCtx) }()
	}
	f.wg.Add(2)
	go func() { defer f.wg.Done(); mgr.Start(runCtx) }()
	go func() {
		defer f.wg.Done()
		if err := f.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			f.cfg.Log.Error("API server stopped", "err", err)
		}
	}()
	return nil
}

func (f *Factory) dir(name string) string { return filepath.Join(f.cfg.DataDir, name) }

// shared is name in the directory every replica shares.
func (f *Factory) shared(name string) string { return filepath.Join(f.cfg.SharedDir, name) }

// Stop shuts down gracefully: streams end, in-flight requests finish (up to
// 10 s), controllers stop, the store closes.
func (f *Factory) Stop() error {
	f.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := f.httpSrv.Shutdown(ctx)
	f.wg.Wait()
	if f.tests != nil {
		f.tests.Wait() // scenario runs outlive their reconcile
	}
	if f.oci != nil {
		_ = f.oci.Close()
	}
	if f.sandbox != nil {
		_ = f.sandbox.Close()
	}
	if cerr := f.Store.Close(); err == nil {
		err = cerr
	}
	return err
}

// Run starts a factory and blocks until ctx ends, then stops it.
func Run(ctx context.Context, cfg Config) error {
	f, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	<-ctx.Done()
	f.cfg.Log.Info("shutting down")
	return f.Stop()
}

// clientAddr is the address clients use: a wildcard listen address is
// reached through loopback.
func clientAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return a.String()
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(tcp.Port))
}

// HTTPClient returns a client that trusts the factory's CA.
func (f *Factory) HTTPClient() *http.Client {
	pool, _ := x509.SystemCertPool()
	if pool == nil {
		pool = x509.NewCertPool()
	}
	pool.AppendCertsFromPEM(f.CAPEM)
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
}

func databaseURL(db string) string {
	if strings.Contains(db, "://") {
		return db
	}
	return "sqlite://" + db
}

// redactURL hides a password in a database URL.
func redactURL(u string) string {
	at := strings.LastIndex(u, "@")
	scheme := strings.Index(u, "://")
	if at < 0 || scheme < 0 {
		return u
	}
	creds := u[scheme+3 : at]
	if user, _, ok := strings.Cut(creds, ":"); ok {
		return u[:scheme+3] + user + ":***" + u[at:]
	}
	return u
}
