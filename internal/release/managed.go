package release

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/aptrepo"
	"github.com/kilnbuild/kiln/internal/attest"
	"github.com/kilnbuild/kiln/internal/oci"
	"github.com/kilnbuild/kiln/internal/publish"
)

// Built-in release pipelines: trusted code in the server that publishes
// with the managed namespace's credentials (a sandbox has no network).
// An admission selects one with pipelineRef {resolver: catalog, params:
// [{name: name, value: push-to-registry}]}.
const (
	PipelinePushToRegistry = "push-to-registry"
	PipelinePublishStatic  = "publish-static"
)

// Builtin reports whether ref names a built-in release pipeline.
func Builtin(ref v1alpha1.ResolverRef) (string, bool) {
	if ref.Resolver != "catalog" {
		return "", false
	}
	for _, p := range ref.Params {
		if p.Name == "name" && (p.Value == PipelinePushToRegistry || p.Value == PipelinePublishStatic) {
			return p.Value, true
		}
	}
	return "", false
}

// PushData is data for push-to-registry (the merged release data).
type PushData struct {
	Mapping struct {
		Components []MappedComponent `json:"components"`
		Defaults   MappedComponent   `json:"defaults"`
	} `json:"mapping"`
	Registry struct {
		// Secret names a Secret of the managed namespace with username and
		// password (basic-auth) for the destination registry.
		Secret    string `json:"secret"`
		PlainHTTP bool   `json:"plainHTTP"`
	} `json:"registry"`
	Signing struct {
		// Secret names a Secret of the managed namespace whose key
		// cosign.key is the release key (PEM, ECDSA P-256).
		Secret string `json:"secret"`
	} `json:"signing"`
	Static struct {
		Path string `json:"path"`
	} `json:"static"`
}

// MappedComponent says where one component goes.
type MappedComponent struct {
	Name string `json:"name"`
	// Repository may use {{ component }}.
	Repository string   `json:"repository"`
	Tags       []string `json:"tags"`
}

// decodeData reads the merged data into PushData.
func decodeData(data map[string]any) (PushData, error) {
	var d PushData
	b, _ := json.Marshal(data)
	if err := json.Unmarshal(b, &d); err != nil {
		return d, fmt.Errorf("release data: %w (see docs/releases.md for the shape of mapping, registry and signing)", err)
	}
	return d, nil
}

// destination is where a component goes and with which tags.
func (d PushData) destination(comp string, vars publish.TagVars) (string, []string, error) {
	m := d.Mapping.Defaults
	for _, c := range d.Mapping.Components {
		if c.Name == comp {
			if c.Repository != "" {
				m.Repository = c.Repository
			}
			if len(c.Tags) > 0 {
				m.Tags = c.Tags
			}
		}
	}
	if m.Repository == "" {
		return "", nil, fmt.Errorf("component %s: no repository: add it to data.mapping.components (or set data.mapping.defaults.repository, e.g. registry.example.com/team/{{ component }})", comp)
	}
	repo := componentVar.ReplaceAllString(m.Repository, comp)
	if strings.Contains(repo, "{{") {
		return "", nil, fmt.Errorf("component %s: repository %q: only {{ component }} may be used in a repository", comp, m.Repository)
	}
	tags, err := publish.ExpandTags(m.Tags, vars.Map())
	if err != nil {
		return "", nil, fmt.Errorf("component %s: %w", comp, err)
	}
	return repo, tags, nil
}

var componentVar = regexp.MustCompile(`\{\{\s*component\s*\}\}`)

// ConfigError is a release that cannot work as configured (data,
// mapping, secrets): retrying does not help.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

func configErr(err error) error {
	if err == nil {
		return nil
	}
	return &ConfigError{err}
}

// Secrets reads a Secret's key in a namespace.
type Secrets func(ctx context.Context, ns, name, key string) ([]byte, error)

// Publisher runs the built-in release pipelines.
type Publisher struct {
	// Source gives the credentials to read a tenant's artifact.
	Source func(ref string) oci.Remote
	// StaticDir is where publish-static writes: StaticDir/<namespace>/….
	StaticDir string
	// AptSigner returns the managed namespace's repository key, which signs
	// the apt repository publish-static makes of released .debs.
	AptSigner func(ctx context.Context, ns string) (*aptrepo.Signer, error)
	// Secrets reads the managed namespace's secrets (destination
	// credentials, the release signing key).
	Secrets Secrets
	// Remote is how destination registries are reached: their root CAs
	// (zero: the system's) and transport.
	Remote oci.Remote
	// Track, when set, registers a run as work of its namespace (deleting
	// the namespace cancels it and waits for it to end).
	Track func(ctx context.Context, ns string) (context.Context, func())
}

// Run publishes every component of the Snapshot; it returns what it
// published (for status.artifacts).
func (p *Publisher) Run(ctx context.Context, name, ns string, s *v1alpha1.Snapshot, counters map[string]int64, data map[string]any, log io.Writer) (map[string]any, error) {
	d, err := decodeData(data)
	if err != nil {
		return nil, configErr(err)
	}
	if p.Track != nil {
		var done func()
		ctx, done = p.Track(ctx, ns)
		defer done()
	}
	switch name {
	case PipelinePushToRegistry:
		return p.push(ctx, ns, s, counters, d, log)
	case PipelinePublishStatic:
		return p.static(ctx, ns, s, d, log)
	}
	return nil, fmt.Errorf("no built-in release pipeline %q", name)
}

func (p *Publisher) push(ctx context.Context, ns string, s *v1alpha1.Snapshot, counters map[string]int64, d PushData, log io.Writer) (map[string]any, error) {
	dst, err := p.destinationRemote(ctx, ns, d)
	if err != nil {
		return nil, configErr(err)
	}
	signer, err := p.releaseSigner(ctx, ns, d)
	if err != nil {
		return nil, configErr(err)
	}
	out := map[string]any{}
	for _, c := range s.Spec.Components {
		res, err := p.pushOne(ctx, c, counters[c.Name], d, dst, signer, log)
		if err != nil {
			return out, err
		}
		out[c.Name] = res
	}
	return out, nil
}

func (p *Publisher) pushOne(ctx context.Context, c v1alpha1.SnapshotComponent, counter int64, d PushData, dst oci.Remote, signer *attest.Signer, log io.Writer) (map[string]any, error) {
	_, digest, _ := oci.SplitDigest(c.ContainerImage)
	vars := publish.TagVars{Component: c.Name, Digest: digest, BuildCounter: counter}
	if c.Source != nil && c.Source.Git != nil {
		vars.GitSHA = c.Source.Git.Revision
	}
	repo, tags, err := d.destination(c.Name, vars)
	if err != nil {
		return nil, configErr(err)
	}
	res, err := publish.Copy(ctx, publish.CopyRequest{Source: c.ContainerImage, Destination: repo, Tags: tags,
		SourceRemote: p.Source(c.ContainerImage), DestinationRemote: dst})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "==> %s: %s@%s tags %v (copied %d manifests, %d blobs; skipped %d manifests, %d blobs)\n",
		c.Name, repo, res.Digest, res.Tags, res.Copied.Manifests, res.Copied.Blobs, res.Skipped.Manifests, res.Skipped.Blobs)
	out := map[string]any{"repository": repo, "digest": res.Digest, "tags": res.Tags,
		"copied": res.Copied.Manifests + res.Copied.Blobs, "skipped": res.Skipped.Manifests + res.Skipped.Blobs}
	if signer != nil {
		if err := publish.Resign(ctx, repo+"@"+res.Digest, signer, dst); err != nil {
			return out, err
		}
		out["releaseSigned"] = true
	}
	return out, nil
}

func (p *Publisher) destinationRemote(ctx context.Context, ns string, d PushData) (oci.Remote, error) {
	rem := p.Remote
	rem.PlainHTTP = d.Registry.PlainHTTP
	if d.Registry.Secret == "" {
		return rem, nil
	}
	user, err := p.Secrets(ctx, ns, d.Registry.Secret, "username")
	if err != nil {
		return rem, err
	}
	pass, err := p.Secrets(ctx, ns, d.Registry.Secret, "password")
	if err != nil {
		return rem, err
	}
	rem.Username, rem.Password = string(user), string(pass)
	return rem, nil
}

func (p *Publisher) releaseSigner(ctx context.Context, ns string, d PushData) (*attest.Signer, error) {
	if d.Signing.Secret == "" {
		return nil, nil
	}
	pemKey, err := p.Secrets(ctx, ns, d.Signing.Secret, "cosign.key")
	if err != nil {
		return nil, err
	}
	s, err := attest.NewSigner(ctx, attest.PEMKey(pemKey))
	if err != nil {
		return nil, fmt.Errorf("release key %s/%s: %w", ns, d.Signing.Secret, err)
	}
	return s, nil
}

func (p *Publisher) static(ctx context.Context, ns string, s *v1alpha1.Snapshot, d PushData, log io.Writer) (map[string]any, error) {
	sub := d.Static.Path
	if sub == "" {
		sub = s.Spec.Application
	}
	out := map[string]any{}
	var debs []string
	for _, c := range s.Spec.Components {
		if c.Name == aptrepo.StaticDirName {
			return out, configErr(fmt.Errorf("component %q: publish-static keeps %s/%s for the apt repository of the released .debs; rename the component",
				c.Name, sub, aptrepo.StaticDirName))
		}
	}
	for _, c := range s.Spec.Components {
		// One directory per component, each with its own SHA256SUMS,
		// index.json and (for RPMs) yum metadata.
		res, err := publish.PublishFiles(ctx, publish.StaticRequest{Artifact: c.ContainerImage, Remote: p.Source(c.ContainerImage),
			Dir: filepath.Join(p.StaticDir, ns), Subdir: path.Join(sub, c.Name)})
		if err != nil {
			return out, err
		}
		fmt.Fprintf(log, "==> %s: %d files written, %d unchanged, to %s (repodata: %v)\n", c.Name, len(res.Written), len(res.Skipped), res.Dir, res.Repodata)
		// The path below the static root: a tenant reads this status, the
		// server's directory layout is not theirs to know.
		rel, _ := filepath.Rel(p.StaticDir, res.Dir)
		out[c.Name] = map[string]any{"path": filepath.ToSlash(rel), "written": len(res.Written), "skipped": len(res.Skipped), "repodata": res.Repodata}
		for _, f := range res.Index.Files {
			if aptrepo.IsDeb(f.Path) {
				debs = append(debs, filepath.Join(res.Dir, filepath.FromSlash(f.Path)))
			}
		}
	}
	if len(debs) == 0 {
		return out, nil
	}
	apt, err := p.aptRepository(ctx, ns, sub, debs, log)
	if err != nil {
		return out, err
	}
	out[aptStatusKey] = apt
	return out, nil
}

// aptStatusKey holds the apt repository in status.artifacts.
const aptStatusKey = "apt-repository"

// aptRepository makes STATIC/NS/SUB/apt an apt repository of the
// released .debs, signed with the managed namespace's repository key.
func (p *Publisher) aptRepository(ctx context.Context, ns, sub string, debs []string, log io.Writer) (map[string]any, error) {
	if p.AptSigner == nil {
		return nil, fmt.Errorf("the released artifacts hold .debs but this server signs no apt repositories")
	}
	signer, err := p.AptSigner(ctx, ns)
	if err != nil {
		return nil, err
	}
	meta := aptrepo.Meta{Label: ns + "/" + sub, Description: "Kiln release " + ns + "/" + sub}
	res, err := aptrepo.PublishStatic(filepath.Join(p.StaticDir, ns, filepath.FromSlash(sub)), meta, debs, signer)
	if err != nil {
		return nil, err
	}
	rel, _ := filepath.Rel(p.StaticDir, res.Dir)
	fmt.Fprintf(log, "==> apt repository: %d packages in %s, suite %s, signed by %s\n", res.Packages, res.Dir, aptrepo.DefaultSuite, res.Fingerprint)
	return map[string]any{"path": filepath.ToSlash(rel), "suite": aptrepo.DefaultSuite, "components": []string{aptrepo.DefaultComponent},
		"packages": res.Packages, "fingerprint": res.Fingerprint}, nil
}
