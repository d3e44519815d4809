package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/kilnbuild/kiln/internal/apiserver"
	"github.com/kilnbuild/kiln/internal/auth"
	"github.com/kilnbuild/kiln/internal/build"
	"github.com/kilnbuild/kiln/internal/buildgroup"
	"github.com/kilnbuild/kiln/internal/controller"
	"github.com/kilnbuild/kiln/internal/git"
	"github.com/kilnbuild/kiln/internal/integration"
	"github.com/kilnbuild/kiln/internal/oci"
	"github.com/kilnbuild/kiln/internal/registry"
	"github.com/kilnbuild/kiln/internal/release"
	"github.com/kilnbuild/kiln/internal/sandbox"
	"github.com/kilnbuild/kiln/internal/snapshot"
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
	kiln := oci.KilnAuthorizer(authn, authz)
	system := []byte(f.systemToken)
	authorizer := oci.AuthorizerFunc(func(ctx context.Context, token, ns string, a oci.Action) error {
		if subtle.ConstantTimeCompare([]byte(token), system) != 1 {
			if err := kiln.Authorize(ctx, token, ns, a); err != nil {
				return err
			}
		}
		return f.writable(ctx, ns, a)
	})
	reg, err := oci.NewRegistry(oci.Config{Dir: f.dir("registry"), Authorizer: authorizer, Log: f.cfg.Log, NoSync: f.cfg.RegistryNoSync})
	if err != nil {
		return err
	}
	f.oci = reg
	api.Handle("/v2/", reg, true)
	return nil
}

// wireBuilds registers the build controllers, first builds of new
// components, webhooks at /hooks/, and returns the git poller and the
// executor.
func (f *Factory) wireBuilds(api *apiserver.Server, mgr *controller.Manager, reg *registry.Registry) (*git.Poller, *build.PipelineExecutor) {
	cache := &git.Cache{Dir: f.dir("git")}
	sources := build.NewSources(reg, cache, f.cfg.AllowFileSources, f.cfg.Log)
	window := f.cfg.BatchWindow
	if window == 0 {
		window = build.DefaultBatchWindow
	}
	sources.SetBatchWindow(window)
	sources.RegisterFirstBuilds(mgr)
	api.Handle("/hooks/", sources.Webhooks(), true)
	workers := f.cfg.BuildWorkers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	exec := f.executor(cache, sources)
	build.Register(mgr, reg, exec, build.Options{Workers: workers, NamespaceLimit: f.cfg.MaxBuildsPerNamespace, LogDir: f.dir("logs")}, f.cfg.Log)
	groups := &buildgroup.Controller{Git: cache, CheckURL: sources.CheckURL, WorkDir: f.dir("work"), Log: f.cfg.Log}
	buildgroup.Register(mgr, reg, groups)
	sources.SetInputs(groups.Inputs)
	f.wireReleases(mgr, reg, exec, workers)
	return sources.Poller(f.dir("git/home")), exec
}

// wireReleases registers snapshots, integration tests and releases.
func (f *Factory) wireReleases(mgr *controller.Manager, reg *registry.Registry, exec *build.PipelineExecutor, workers int) {
	snapshot.Register(mgr, reg, &snapshot.Controller{Log: f.cfg.Log})
	f.tests = &integration.Controller{Runner: exec, LogDir: f.dir("logs"), Log: f.cfg.Log}
	integration.Register(mgr, reg, f.tests, workers)
	checker := &release.PolicyChecker{BuilderKey: f.signer.PublicKey(), BuilderID: f.cfg.BuilderID, KeyID: build.KeyID(f.signer), Remote: exec.RemoteFor}
	pub := &release.Publisher{Source: exec.RemoteFor, StaticDir: f.dir("repos"), Remote: oci.Remote{RootCAs: f.caPool()}, Track: exec.Track}
	release.Register(mgr, reg, &release.Controller{Runner: exec, Checker: checker, Publisher: pub, LogDir: f.dir("logs"), Log: f.cfg.Log}, 2)
}

// executor builds the pipeline executor. Builds run in the bubblewrap
// sandbox; if it is unavailable, the server still starts and every build
// fails saying why.
func (f *Factory) executor(cache *git.Cache, sources *build.Sources) *build.PipelineExecutor {
	runner, err := sandbox.NewBubblewrap(sandbox.Options{Protected: f.protectedPaths(), HostIDs: f.cfg.SandboxHostIDs})
	// Earlier versions shared one cache of step images, by digest, across
	// namespaces (DATA_DIR/images); it is only a cache, and nothing reads it.
	if err := os.RemoveAll(f.dir("images")); err != nil {
		f.cfg.Log.Warn("cannot remove the old shared image cache", "dir", f.dir("images"), "err", err)
	}
	e := &build.PipelineExecutor{
		Git: cache, WorkDir: f.dir("work"), ImageCache: f.dir("step-images"), CheckURL: sources.CheckURL,
		Registry: strings.TrimPrefix(f.URL, "https://"),
		Remote:   oci.Remote{Token: f.systemToken, RootCAs: f.caPool()},
		Attestor: &build.Attestor{Signer: f.signer, BuilderID: f.cfg.BuilderID, Version: f.cfg.Version, Dir: f.dir("evidence")},
	}
	if p := f.cfg.PushRegistry; p.Registry != "" {
		e.Embedded, e.EmbeddedRemote = e.Registry, e.Remote
		e.Registry = strings.TrimSuffix(p.Registry, "/")
		e.Remote = oci.Remote{Username: p.Username, Password: p.Password, PlainHTTP: p.PlainHTTP, RootCAs: f.caPool()}
	}
	if err != nil {
		f.cfg.Log.Warn("builds cannot run: no sandbox", "err", err)
		e.RunnerErr = err
	} else {
		e.Runner, f.sandbox = runner, runner
	}
	return e
}

// logPath locates the log of a Build, a Release, or one scenario of a
// Snapshot.
func (f *Factory) logPath(kind, ns, name, part string) string {
	switch kind {
	case "Release":
		return release.LogPath(f.dir("logs"), ns, name)
	case "Snapshot":
		return integration.LogPath(f.dir("logs"), ns, name, filepath.Base(part))
	}
	return build.LogPath(f.dir("logs"), ns, name)
}

// DefaultBuilderID is the SLSA builder id when the operator sets none.
const DefaultBuilderID = "https://kiln.dev/builder/v1"

// protectedPaths are what no build step may ever see, including the
// signing key wherever the operator keeps it.
func (f *Factory) protectedPaths() []string {
	var out []string
	paths := []string{f.cfg.SigningKey}
	for _, p := range []string{"keys", "signing", "repos", "evidence", "tls", "registry", "git", "logs", ClientConfigName, "kiln.db", "kiln.db-wal", "kiln.db-shm"} {
		paths = append(paths, f.dir(p))
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
