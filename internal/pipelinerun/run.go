// Package pipelinerun runs Tekton-shaped pipelines in the sandbox for a
// namespace: the part of running a build that builds share with
// integration tests and release pipelines, and the whole of those runs.
// Every run follows the same rules: steps have no network outside
// prefetch steps; step images and artifacts in Kiln's registries must
// belong to the run's namespace and are resolved through the registry on
// every use; each namespace has its own image cache and work directories;
// and the work in progress is tracked per namespace, so deleting a
// namespace stops it before its files go.
package pipelinerun

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/git"
	"github.com/kilnbuild/kiln/internal/oci"
	"github.com/kilnbuild/kiln/internal/pipeline"
)

// Run is a pipeline run that is not a build: an integration test against
// a Snapshot, or a release pipeline. It runs in the same sandbox as
// builds, with the same rules: no network outside prefetch steps, step
// images and artifacts only from its own namespace.
type Run struct {
	// Namespace is whose images and artifacts the run may use.
	Namespace string
	// Name is unique among runs in progress (the work directory).
	Name string
	// Ref says where the pipeline comes from: git (url, revision,
	// pathInRepo) or catalog (name).
	Ref v1alpha1.ResolverRef
	// Params are the pipeline's parameters.
	Params map[string]any
	// Offered are parameters Kiln offers (SNAPSHOT, RELEASE…): passed only
	// when the pipeline declares them.
	Offered map[string]any
	// Artifacts are pulled read-only to /kiln/deps/<component>.
	Artifacts []v1alpha1.BuildInput
	// Secret resolves secretKeyRef env vars, in the run's namespace.
	Secret func(context.Context, pipeline.SecretRef) (string, error)
	// Log receives the run's output.
	Log io.Writer
}

// Run resolves, compiles and runs r's pipeline. The returned string names
// the pipeline (e.g. git:<url>@<commit>:<path>).
func (e *Runner) Run(ctx context.Context, r Run) (*pipeline.RunResult, string, error) {
	if e.Sandbox == nil {
		return nil, "", fmt.Errorf("this server cannot run pipelines: %w", e.SandboxErr)
	}
	ctx, done := e.active.start(ctx, r.Namespace)
	defer done()
	ws := filepath.Join(e.WorkDir, "runs", r.Namespace, v1alpha1.FileName(r.Name, ""))
	_ = os.RemoveAll(ws)
	defer os.RemoveAll(ws)
	p, from, err := e.ResolvePipeline(ctx, r.Ref, filepath.Join(ws, "pipeline"))
	if err != nil {
		return nil, from, err
	}
	plan, err := pipeline.Compile(p, withOffered(p, r.Params, r.Offered), pipeline.Context{})
	if err != nil {
		return nil, from, fmt.Errorf("compiling %s: %w", from, err)
	}
	fmt.Fprintf(r.Log, "==> pipeline %s (%s), plan %s\n", plan.Pipeline, from, plan.Digest())
	buildroot, err := e.PullArtifacts(ctx, r.Namespace, r.Artifacts, filepath.Join(ws, "deps"), r.Log)
	if err != nil {
		return nil, from, err
	}
	res, err := pipeline.Run(ctx, plan, pipeline.RunOptions{
		Runner: e.Sandbox, WorkspaceDir: filepath.Join(ws, "run"), Buildroot: buildroot,
		ImageResolver: e.StepImages(ctx, r.Namespace), Secret: r.Secret, Log: r.Log, Limits: e.Limits,
	})
	return res, from, err
}

func withOffered(p *pipeline.Pipeline, params, offered map[string]any) map[string]any {
	out := map[string]any{}
	for _, ps := range p.Spec.Params {
		if v, ok := offered[ps.Name]; ok {
			out[ps.Name] = v
		}
	}
	for k, v := range params {
		out[k] = v
	}
	return out
}

// ResolvePipeline loads the pipeline a resolver reference names; dir is
// scratch space for a git checkout.
func (e *Runner) ResolvePipeline(ctx context.Context, ref v1alpha1.ResolverRef, dir string) (*pipeline.Pipeline, string, error) {
	params := map[string]string{}
	for _, p := range ref.Params {
		params[p.Name] = p.Value
	}
	switch ref.Resolver {
	case "catalog":
		p, ok := pipeline.Builtin().Pipeline(params["name"])
		if !ok {
			return nil, "", fmt.Errorf("resolverRef: no catalog pipeline %q (have %s)", params["name"], strings.Join(pipeline.Builtin().Names(), ", "))
		}
		return p, "catalog:" + params["name"], nil
	case "git":
		return e.gitPipeline(ctx, params, dir)
	}
	return nil, "", fmt.Errorf("resolverRef.resolver %q is not supported by this server: use git (url, revision, pathInRepo) or catalog (name)", ref.Resolver)
}

func (e *Runner) gitPipeline(ctx context.Context, params map[string]string, dir string) (*pipeline.Pipeline, string, error) {
	url, rev, path := params["url"], params["revision"], params["pathInRepo"]
	if url == "" || path == "" {
		return nil, "", fmt.Errorf("resolverRef: the git resolver needs params url and pathInRepo (and revision, default main)")
	}
	if rev == "" {
		rev = "main"
	}
	if err := e.CheckURL(url); err != nil {
		return nil, "", err
	}
	commit, err := e.Git.Fetch(ctx, url, rev)
	if err != nil {
		return nil, "", fmt.Errorf("fetching the pipeline from %s %s: %w", git.Redact(url), rev, err)
	}
	from := fmt.Sprintf("git:%s@%s:%s", git.Redact(url), commit, path)
	if _, err := e.Git.Checkout(ctx, url, commit, dir, ""); err != nil {
		return nil, from, fmt.Errorf("checking out %s: %w", from, err)
	}
	p, err := pipeline.LoadRepoFile(dir, path)
	if err != nil {
		return nil, from, fmt.Errorf("loading %s: %w", from, err)
	}
	return p, from, nil
}

// PullArtifacts materialises artifacts of namespace ns, read-only in the
// sandbox, at dir/<component>, and returns dir ("" when there are none).
// They must be artifacts of ns: a tenant cannot point a build or a run at
// another tenant's artifacts.
func (e *Runner) PullArtifacts(ctx context.Context, ns string, arts []v1alpha1.BuildInput, dir string, log io.Writer) (string, error) {
	if len(arts) == 0 {
		return "", nil
	}
	for _, in := range arts {
		if !e.ownRepository(ns, in.Repository) {
			return "", fmt.Errorf("%s is not an artifact of namespace %q: builds and runs may only use their own namespace's artifacts", in.Repository, ns)
		}
		ref := in.Repository + "@" + in.Digest
		if _, err := oci.Pull(ctx, ref, filepath.Join(dir, in.Component), e.RemoteFor(in.Repository)); err != nil {
			return "", fmt.Errorf("pulling %s: %w", ref, err)
		}
		fmt.Fprintf(log, "==> artifact %s: %s at /kiln/deps/%s\n", in.Component, ref, in.Component)
	}
	return dir, nil
}

// Owns reports whether ref is in one of namespace ns's repositories of
// Kiln's registries.
func (e *Runner) Owns(ref, ns string) bool { return e.ownRepository(ns, ref) }

func (e *Runner) ownRepository(ns, repo string) bool {
	for _, host := range e.hosts() {
		if host != "" && strings.HasPrefix(repo, host+"/"+ns+"/") {
			return true
		}
	}
	return false
}

// RemoteFor picks the credentials Kiln reads ref with: the system's for
// the embedded registry, the push credentials for the push registry,
// anonymous elsewhere. A reference naming an address the embedded
// registry had before is read from where it is now.
func (e *Runner) RemoteFor(ref string) oci.Remote {
	switch {
	case e.Embedded != "" && strings.HasPrefix(ref, e.Embedded+"/"):
		return e.EmbeddedRemote
	case strings.HasPrefix(ref, e.Registry+"/"):
		return e.Remote
	}
	for _, m := range e.Moved {
		if m != "" && strings.HasPrefix(ref, m+"/") {
			addr, r := e.local()
			r.Address = addr
			return r
		}
	}
	return oci.Remote{}
}
