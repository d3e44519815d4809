package build

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

// PipelineRun is a pipeline run that is not a build: an integration test
// against a Snapshot, or a release pipeline. It runs in the same sandbox
// as builds, with the same rules: no network outside prefetch steps, step
// images and artifacts only from its own namespace.
type PipelineRun struct {
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

// RunPipeline resolves, compiles and runs r's pipeline. The returned
// string names the pipeline (e.g. git:<url>@<commit>:<path>).
func (e *PipelineExecutor) RunPipeline(ctx context.Context, r PipelineRun) (*pipeline.RunResult, string, error) {
	if e.Runner == nil {
		return nil, "", fmt.Errorf("this server cannot run pipelines: %w", e.RunnerErr)
	}
	ctx, done := e.active.start(ctx, r.Namespace)
	defer done()
	ws := filepath.Join(e.WorkDir, "runs", r.Namespace, FileName(r.Name, ""))
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
	buildroot, err := e.pullArtifacts(ctx, r.Namespace, r.Artifacts, filepath.Join(ws, "deps"), r.Log)
	if err != nil {
		return nil, from, err
	}
	res, err := pipeline.Run(ctx, plan, pipeline.RunOptions{
		Runner: e.Runner, WorkspaceDir: filepath.Join(ws, "run"), Buildroot: buildroot,
		ImageResolver: e.stepImages(ctx, r.Namespace), Secret: r.Secret, Log: r.Log, Limits: e.Limits,
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
func (e *PipelineExecutor) ResolvePipeline(ctx context.Context, ref v1alpha1.ResolverRef, dir string) (*pipeline.Pipeline, string, error) {
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

func (e *PipelineExecutor) gitPipeline(ctx context.Context, params map[string]string, dir string) (*pipeline.Pipeline, string, error) {
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
	file := filepath.Join(dir, filepath.FromSlash(path))
	if rel, err := filepath.Rel(dir, file); err != nil || strings.HasPrefix(rel, "..") {
		return nil, from, fmt.Errorf("resolverRef: pathInRepo %q leaves the repository", path)
	}
	p, _, err := pipeline.ParseFiles(file)
	if err != nil {
		return nil, from, fmt.Errorf("loading %s: %w", from, err)
	}
	return p, from, nil
}

// pullArtifacts materialises artifacts of namespace ns at dir/<component>.
func (e *PipelineExecutor) pullArtifacts(ctx context.Context, ns string, arts []v1alpha1.BuildInput, dir string, log io.Writer) (string, error) {
	if len(arts) == 0 {
		return "", nil
	}
	for _, in := range arts {
		if !e.ownRepository(ns, in.Repository) {
			return "", fmt.Errorf("%s is not an artifact of namespace %q: runs may only use their own namespace's artifacts", in.Repository, ns)
		}
		ref := in.Repository + "@" + in.Digest
		if _, err := oci.Pull(ctx, ref, filepath.Join(dir, in.Component), e.remoteFor(in.Repository)); err != nil {
			return "", fmt.Errorf("pulling %s: %w", ref, err)
		}
		fmt.Fprintf(log, "==> artifact %s: %s at /kiln/deps/%s\n", in.Component, ref, in.Component)
	}
	return dir, nil
}

// SplitImage splits repository@sha256:… into repository and digest.
func SplitImage(img string) (repo, digest string, ok bool) {
	repo, digest, ok = strings.Cut(img, "@")
	return repo, digest, ok && strings.HasPrefix(digest, "sha256:")
}

// RemoteFor gives the credentials Kiln reads ref with: the embedded
// registry's system token or the push registry's credentials.
func (e *PipelineExecutor) RemoteFor(ref string) oci.Remote { return e.remoteFor(ref) }
