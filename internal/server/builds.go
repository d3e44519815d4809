package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/kilnbuild/kiln/internal/apiserver"
	"github.com/kilnbuild/kiln/internal/auth"
	"github.com/kilnbuild/kiln/internal/builder"
	"github.com/kilnbuild/kiln/internal/buildgroup"
	"github.com/kilnbuild/kiln/internal/buildroot"
	"github.com/kilnbuild/kiln/internal/controller"
	"github.com/kilnbuild/kiln/internal/executor"
	"github.com/kilnbuild/kiln/internal/git"
	"github.com/kilnbuild/kiln/internal/integration"
	"github.com/kilnbuild/kiln/internal/oci"
	"github.com/kilnbuild/kiln/internal/pipelinerun"
	"github.com/kilnbuild/kiln/internal/registry"
	"github.com/kilnbuild/kiln/internal/regtoken"
	"github.com/kilnbuild/kiln/internal/release"
	"github.com/kilnbuild/kiln/internal/remote"
	"github.com/kilnbuild/kiln/internal/sandbox"
	"github.com/kilnbuild/kiln/internal/secret"
	"github.com/kilnbuild/kiln/internal/snapshot"
	"github.com/kilnbuild/kiln/internal/trigger"
)

// mountRegistry serves the embedded OCI registry at /v2/. Tenants
// authenticate with their Kiln tokens; Kiln's own build controllers use an
// in-memory system token.
func (f *Factory) mountRegistry(api *apiserver.Server, authn *auth.Authenticator, authz *auth.Authorizer) error {
	tok := make([]byte, 32)
	if _, err := rand.Read(tok); err != nil {
		return err
	}
	f.systemToken = "kiln-system-" + hex.EncodeToString(tok)
	authorizer := &registryAuthorizer{kiln: oci.KilnAuthorizer(authn, authz), system: []byte(f.systemToken), f: f}
	reg, err := oci.NewRegistry(oci.Config{Dir: f.dir("registry"), Authorizer: authorizer, Log: f.cfg.Log, NoSync: f.cfg.RegistryNoSync})
	if err != nil {
		return err
	}
	f.oci = reg
	// Every replica checks the pull tokens any replica minted: the key is
	// in the shared directory, created once.
	key, err := secret.LoadOrCreateKey(filepath.Join(f.cfg.SharedDir, "keys", "pull-token.key"))
	if err != nil {
		return fmt.Errorf("the registry pull-token key: %w", err)
	}
	if f.pullTokens, err = regtoken.NewIssuer(key); err != nil {
		return err
	}
	api.Handle("/v2/", f.pullTokens.Handler(reg, f.systemToken), true)
	return nil
}

// registryAuthorizer admits Kiln's controllers (the system token) and
// tenants' and builds' tokens, then refuses writes to namespaces being
// deleted.
type registryAuthorizer struct {
	kiln interface {
		oci.Authorizer
		oci.RepositoryAuthorizer
	}
	system []byte
	f      *Factory
}

func (r *registryAuthorizer) Authorize(ctx context.Context, token, ns string, a oci.Action) error {
	if !r.isSystem(token) {
		if err := r.kiln.Authorize(ctx, token, ns, a); err != nil {
			return err
		}
	}
	return r.f.writable(ctx, ns, a)
}

func (r *registryAuthorizer) AuthorizeRepository(ctx context.Context, token, repo string, a oci.Action) error {
	if !r.isSystem(token) {
		if err := r.kiln.AuthorizeRepository(ctx, token, repo, a); err != nil {
			return err
		}
	}
	ns, _, _ := strings.Cut(repo, "/")
	return r.f.writable(ctx, ns, a)
}

func (r *registryAuthorizer) isSystem(token string) bool {
	return subtle.ConstantTimeCompare([]byte(token), r.system) == 1
}

// registrar is every controller package's type: it adds its reconcile
// loops to the manager.
type registrar interface{ Register(m *controller.Manager) }

// wireBuilds mounts webhooks at /hooks/ and returns the git poller, the
// executor and the controllers of builds, groups, snapshots, tests and
// releases.
func (f *Factory) wireBuilds(ctx context.Context, api *apiserver.Server, reg *registry.Registry, authn *auth.Authenticator, leading func() bool) (*git.Poller, *executor.Executor, []registrar) {
	cache := &git.Cache{Dir: f.dir("git")}
	checkURL := git.AllowedURLs(f.cfg.AllowFileSources)
	groups := &buildgroup.Controller{Git: cache, CheckURL: checkURL, WorkDir: f.dir("work"), Log: f.cfg.Log}
	window := f.cfg.BatchWindow
	if window == 0 {
		window = trigger.DefaultBatchWindow
	}
	sources := trigger.New(reg, trigger.Options{Git: cache, CheckURL: checkURL, Groups: groups, BatchWindow: window, Leading: leading, Log: f.cfg.Log})
	api.Handle("/hooks/", sources.Webhooks(), true)
	workers := f.cfg.BuildWorkers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	exec := f.executor(f.runner(cache, checkURL))
	var run builder.Executor = exec
	if f.cfg.NoopExecutor {
		run = noopExecutor{wait: f.cfg.NoopBuildTime}
	}
	builds := &builder.Controllers{Executor: run, Workers: workers, NamespaceLimit: f.cfg.MaxBuildsPerNamespace,
		Logs: f.logs, Log: f.cfg.Log, Claims: f.claims}
	if f.cfg.Executor != ExecutorLocal {
		f.wireWorkers(ctx, api, reg, authn, builds, exec.Runs.Current)
	}
	ctrls := append([]registrar{groups, sources, builds}, f.releaseControllers(exec.Runs, workers)...)
	return sources.Poller(f.dir("git/home")), exec, ctrls
}

// wireWorkers serves the remote worker protocol and has builds dispatched
// to the workers (Config.Executor).
func (f *Factory) wireWorkers(ctx context.Context, api *apiserver.Server, reg *registry.Registry, authn *auth.Authenticator, builds *builder.Controllers, current func(string) string) {
	pool := &remote.Pool{Reg: reg, Authn: authn, LeaseDuration: f.cfg.WorkerLease, Log: f.cfg.Log,
		Capacity: builds.SetRemoteCapacity, Current: current}
	builds.Remote, builds.LocalOff = pool, f.cfg.Executor == ExecutorRemote
	api.Handle(remote.PathPrefix, pool.Handler(), true)
	f.wg.Add(1)
	go func() { defer f.wg.Done(); pool.Run(ctx) }()
}

// releaseControllers are the controllers of snapshots, integration tests
// and releases.
func (f *Factory) releaseControllers(runs *pipelinerun.Runner, workers int) []registrar {
	f.tests = &integration.Controller{Runner: runs, Logs: f.logs, Workers: workers, Log: f.cfg.Log}
	checker := &release.PolicyChecker{BuilderKey: f.signer.PublicKey(), BuilderID: f.cfg.BuilderID, KeyID: f.signer.KeyID(), Remote: runs.RemoteFor}
	pub := &release.Publisher{Source: runs.RemoteFor, StaticDir: f.shared("repos"), Remote: oci.Remote{RootCAs: f.caPool()}, Track: runs.Track,
		AptSigner: f.aptSigner}
	releases := &release.Controller{Runner: runs, Checker: checker, Publisher: pub, Logs: f.logs, Workers: 2, Log: f.cfg.Log}
	return []registrar{&snapshot.Controller{Log: f.cfg.Log}, f.tests, releases}
}

// runner is what runs pipelines in the sandbox, for builds, tests and
// releases. Steps run in the bubblewrap sandbox; if it is unavailable, the
// server still starts and every build and run fails saying why.
func (f *Factory) runner(cache *git.Cache, checkURL func(string) error) *pipelinerun.Runner {
	if f.cfg.Kubernetes != nil {
		return f.kubernetesRunner(cache, checkURL)
	}
	sb, err := sandbox.NewBubblewrap(sandbox.Options{Protected: f.protectedPaths(), HostIDs: f.cfg.SandboxHostIDs})
	// Earlier versions shared one cache of step images, by digest, across
	// namespaces (DATA_DIR/images); it is only a cache, and nothing reads it.
	if err := os.RemoveAll(f.dir("images")); err != nil {
		f.cfg.Log.Warn("cannot remove the old shared image cache", "dir", f.dir("images"), "err", err)
	}
	r := f.pipelineRunner(cache, checkURL)
	if err != nil {
		f.cfg.Log.Warn("builds cannot run: no sandbox", "err", err)
		r.SandboxErr = err
	} else {
		r.Sandbox, f.sandbox = sb, sb
	}
	return r
}

// pipelineRunner is what runs pipelines, without its sandbox.
func (f *Factory) pipelineRunner(cache *git.Cache, checkURL func(string) error) *pipelinerun.Runner {
	r := &pipelinerun.Runner{
		Git: cache, WorkDir: f.dir("work"), ImageCache: f.dir("step-images"), CheckURL: checkURL,
		Registry: strings.TrimPrefix(f.URL, "https://"),
		Remote:   oci.Remote{Token: f.systemToken, RootCAs: f.caPool()},
	}
	moved, err := movedRegistry(f.dir("registry-addresses"), r.Registry)
	if err != nil {
		f.cfg.Log.Warn("artifacts stored under the registry's former addresses cannot be read", "err", err)
	}
	r.Moved = moved
	if p := f.cfg.PushRegistry; p.Registry != "" {
		r.Embedded, r.EmbeddedRemote = r.Registry, r.Remote
		r.Registry = strings.TrimSuffix(p.Registry, "/")
		r.Remote = oci.Remote{Username: p.Username, Password: p.Password, PlainHTTP: p.PlainHTTP, RootCAs: f.caPool()}
	}
	return r
}

// executor runs builds through runs, signing what they push.
func (f *Factory) executor(runs *pipelinerun.Runner) *executor.Executor {
	return &executor.Executor{Runs: runs, WorkDir: f.dir("work"), Buildroots: f.buildroots(runs),
		Attestor: &executor.Attestor{Signer: f.signer, BuilderID: f.cfg.BuilderID, Version: f.cfg.Version, Dir: f.shared("evidence")}}
}

// buildroots is the cache of composed buildroots, within the configured
// bound (a negative BuildrootCacheSize: none).
func (f *Factory) buildroots(runs *pipelinerun.Runner) *buildroot.Cache {
	return &buildroot.Cache{Dir: f.dir("buildroots"), Runner: runs.Sandbox, Limits: runs.Limits,
		MaxBytes: max(f.cfg.BuildrootCacheSize, 0), Log: f.cfg.Log}
}

// DefaultBuildrootCacheSize bounds the composed buildroots when the
// operator sets no bound: about 30 buildroots on a 600 MB Debian base.
const DefaultBuildrootCacheSize = 20 << 30

// DefaultBuilderID is the SLSA builder id when the operator sets none.
const DefaultBuilderID = "https://kiln.dev/builder/v1"

// protectedPaths are what no build step may ever see, including the
// signing key wherever the operator keeps it.
func (f *Factory) protectedPaths() []string {
	var out []string
	paths := []string{f.cfg.SigningKey}
	for _, p := range []string{"keys", "signing", "repos", "apt", "evidence", "tls", "registry", "git", "logs", ClientConfigName, "kiln.db", "kiln.db-wal", "kiln.db-shm"} {
		paths = append(paths, f.dir(p))
	}
	if f.cfg.SharedDir != f.cfg.DataDir {
		paths = append(paths, f.cfg.SharedDir)
	}
	for _, p := range paths {
		if abs, err := filepath.Abs(p); err == nil {
			out = append(out, abs)
		}
	}
	return out
}

func (f *Factory) caPool() *x509.CertPool {
	pool, _ := x509.SystemCertPool()
	if pool == nil {
		pool = x509.NewCertPool()
	}
	pool.AppendCertsFromPEM(f.CAPEM)
	return pool
}

// noopExecutor runs nothing: each attempt waits, then succeeds without an
// artifact (benchmarks of the control plane).
type noopExecutor struct{ wait time.Duration }

func (n noopExecutor) Execute(ctx context.Context, _ executor.Job) (executor.Outcome, error) {
	if n.wait > 0 {
		t := time.NewTimer(n.wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return executor.Outcome{}, ctx.Err()
		}
	}
	return executor.Outcome{Message: "no-op executor: nothing was built"}, nil
}
