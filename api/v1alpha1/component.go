package v1alpha1

import (
	"regexp"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// DefaultGitRevision is the branch built when spec.source.git.revision is
// empty.
const DefaultGitRevision = "main"

// Component is one buildable unit of an Application: a git source (and
// sub-directory) that Kiln builds into an artifact.
type Component struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ComponentSpec   `json:"spec,omitempty"`
	Status            ComponentStatus `json:"status,omitzero"`
}

// ComponentSpec is what the user asks for.
type ComponentSpec struct {
	// Application is the name of the Application (same namespace) the
	// component belongs to. Required. Deleting the Application deletes the
	// component.
	Application string `json:"application"`
	// ComponentName is the component's name as Konflux users know it;
	// defaults to metadata.name.
	ComponentName string `json:"componentName,omitempty"`
	// Source is where the component's code comes from. Required.
	Source ComponentSource `json:"source"`
	// ContainerImage is the OCI repository builds push to, e.g.
	// quay.io/team/greet (a tag is allowed, a digest is not). Optional: the
	// server chooses one in its own registry when empty.
	ContainerImage string `json:"containerImage,omitempty"`
	// Build says how and when Kiln builds the component. Optional.
	Build *ComponentBuild `json:"build,omitempty"`
}

// ComponentBuild says how and when Kiln builds a component.
type ComponentBuild struct {
	// PipelineRef names a pipeline of Kiln's built-in catalog (script, go,
	// rpm, oci-image). Empty: the repository's .kiln/pipeline.yaml or
	// .tekton/ files, unless PipelineSpec is set.
	PipelineRef string `json:"pipelineRef,omitempty"`
	// PipelineSpec is an inline Tekton-shaped Pipeline (or Task) document.
	PipelineSpec map[string]any `json:"pipelineSpec,omitempty"`
	// Params are passed to the pipeline.
	Params []Param `json:"params,omitempty"`
	// Platform is the os/arch the component builds on, e.g. "linux/arm64":
	// only the server (when it is that platform) or remote workers of that
	// platform run its builds. Empty: the server's own platform.
	Platform string `json:"platform,omitempty"`
	// PollInterval is how often Kiln checks the branch for new commits, e.g.
	// "60s"; "0s" disables polling (webhooks only). Default 60s.
	PollInterval *metav1.Duration `json:"pollInterval,omitempty"`
	// WebhookSecret names a Secret in the namespace whose "webhook-secret"
	// key verifies forge push events for this component's repository.
	WebhookSecret string `json:"webhookSecret,omitempty"`
	// PullRequestAuthors are the forge users whose pull requests from
	// forks are built ("*": anyone). Pull requests from branches of the
	// repository itself are always built; from forks only for these
	// authors, since their code runs (sandboxed) and is signed.
	PullRequestAuthors []string `json:"pullRequestAuthors,omitempty"`
	// Provides lists capabilities the component provides besides those
	// Kiln detects in its source (e.g. "libgreet.so.1", "pkgconfig(greet)").
	Provides []string `json:"provides,omitempty"`
	// Requires lists capabilities, or other components' names, the build
	// needs besides those detected; their artifacts are mounted read-only
	// at /kiln/deps/<component> in every step.
	Requires []string `json:"requires,omitempty"`
	// Rebuild says what to rebuild when this component's output changes:
	// transitive (every dependant, default), direct (direct dependants
	// only), local (nothing downstream) or none (as local; kept for OBS
	// users).
	Rebuild string `json:"rebuild,omitempty"`
	// BootstrapArtifact is a repository@sha256 digest used as this
	// component's previous artifact when a dependency cycle is built and it
	// has none yet.
	BootstrapArtifact string `json:"bootstrapArtifact,omitempty"`
	// Bootstrap says how to build the component in a dependency cycle's
	// first pass when a cycle member it requires has no artifact yet (and
	// no bootstrapArtifact): without that member, and with these
	// parameters over Params (e.g. Debian's stage1 build profile). The
	// cycle's second pass rebuilds it with its own parameters against the
	// member's new artifact.
	Bootstrap *ComponentBootstrap `json:"bootstrap,omitempty"`
}

// ComponentBootstrap is how a component's bootstrap build differs from its
// ordinary build.
type ComponentBootstrap struct {
	// Params override spec.build.params for the bootstrap build (by name;
	// the others stay). Required, at least one.
	Params []Param `json:"params"`
}

// Rebuild policies (spec.build.rebuild).
const (
	RebuildTransitive = "transitive"
	RebuildDirect     = "direct"
	RebuildLocal      = "local"
	RebuildNone       = "none"
)

// ComponentSource is where a component's code comes from.
type ComponentSource struct {
	// Git is a git repository. Required (the only source type so far).
	Git *GitSource `json:"git,omitempty"`
}

// GitSource is a git repository, branch and sub-directory.
type GitSource struct {
	// URL to clone: https://host/path, ssh://host/path, git@host:path or
	// file:///absolute/path. http:// only for localhost or 127.0.0.1.
	// Required.
	URL string `json:"url"`
	// Revision is the branch to build; defaults to "main".
	Revision string `json:"revision,omitempty"`
	// Context is the sub-directory to build from, relative to the
	// repository root, without ".."; defaults to the root ("").
	Context string `json:"context,omitempty"`
	// DockerfileURL is the Dockerfile (or Containerfile) to build: a path
	// relative to context, or an https:// URL. Optional.
	DockerfileURL string `json:"dockerfileUrl,omitempty"`
}

// ComponentStatus is written by Kiln.
type ComponentStatus struct {
	// ObservedGeneration is the metadata.generation last acted upon.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions describe the component's state.
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// LastBuiltCommit is the commit of the last successful build.
	LastBuiltCommit string `json:"lastBuiltCommit,omitempty"`
	// LastPromotedImage is the image last promoted after tests passed.
	LastPromotedImage string `json:"lastPromotedImage,omitempty"`
	// LatestArtifact is the digest (sha256:...) of the latest built artifact.
	LatestArtifact string `json:"latestArtifact,omitempty"`
	// LatestArtifactRef is the latest artifact as repository@digest.
	LatestArtifactRef string `json:"latestArtifactRef,omitempty"`
	// LastBuild is the name of the component's most recent Build.
	LastBuild string `json:"lastBuild,omitempty"`
	// BuildCounter is the number of the last Build created for the
	// component; it only grows.
	BuildCounter int64 `json:"buildCounter,omitempty"`
	// LastSeenCommit is the branch head Kiln last saw (by polling or a
	// webhook), so a restart does not trigger the same commit again.
	LastSeenCommit string `json:"lastSeenCommit,omitempty"`
	// PendingCommit is a new branch head waiting (a second or so) to be
	// built together with other components' changes; Kiln builds it again
	// after a restart if it was not built yet.
	PendingCommit string `json:"pendingCommit,omitempty"`
	// LatestContentDigest is the content digest of the latest artifact
	// (file paths, modes and contents; timestamps ignored), for early
	// cutoff.
	LatestContentDigest string `json:"latestContentDigest,omitempty"`
	// Capabilities are what the last build's source provides and requires
	// (detected plus declared).
	Capabilities *Capabilities `json:"capabilities,omitempty"`
}

// Capabilities are what a component provides and needs at one commit.
type Capabilities struct {
	// Commit is the commit the capabilities were read from.
	Commit string `json:"commit,omitempty"`
	// Provides are capability names.
	Provides []string `json:"provides,omitempty"`
	// Requires are build requirements; "a|b" means either.
	Requires []string `json:"requires,omitempty"`
	// Detected names the detectors that fired (go, rpm, npm, override).
	Detected []string `json:"detected,omitempty"`
	// SourceBytes is the size of the source's code files: what the
	// planner weighs a component by before it has a build duration.
	SourceBytes int64 `json:"sourceBytes,omitempty"`
}

// Default fills in defaults.
func (c *Component) Default() {
	if c.Spec.ComponentName == "" {
		c.Spec.ComponentName = c.Name
	}
	if g := c.Spec.Source.Git; g != nil && g.Revision == "" {
		g.Revision = DefaultGitRevision
	}
}

// Validate checks the spec.
func (c *Component) Validate() field.ErrorList {
	p := field.NewPath("spec")
	errs := refName(p.Child("application"), c.Spec.Application, "Application")
	errs = append(errs, dnsSubdomain(p.Child("componentName"), c.Spec.ComponentName)...)
	errs = append(errs, validateGitSource(p.Child("source", "git"), c.Spec.Source.Git)...)
	errs = append(errs, validateComponentBuild(p.Child("build"), c.Spec.Build)...)
	if img := c.Spec.ContainerImage; img != "" {
		errs = append(errs, validateBuildImage(p.Child("containerImage"), img)...)
	}
	return errs
}

func validateGitSource(p *field.Path, g *GitSource) field.ErrorList {
	if g == nil {
		return field.ErrorList{field.Required(p, "a git source: url, and optionally revision and context")}
	}
	errs := validateGitURL(p.Child("url"), g.URL)
	if strings.ContainsAny(g.Revision, " \t\n:~^?*[\\") || strings.Contains(g.Revision, "..") {
		errs = append(errs, field.Invalid(p.Child("revision"), g.Revision, "not a valid git branch name"))
	}
	errs = append(errs, validateRelPath(p.Child("context"), g.Context)...)
	return append(errs, validateDockerfileURL(p.Child("dockerfileUrl"), g.DockerfileURL)...)
}

// platformRE matches an os/arch[/variant] platform.
var platformRE = regexp.MustCompile(`^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$`)

// ValidPlatform reports whether p is an os/arch[/variant] platform.
func ValidPlatform(p string) bool { return platformRE.MatchString(p) }

// BuildCatalog is the built-in pipelines a component may name.
var BuildCatalog = []string{"script", "go", "rpm", "debian", "oci-image"}

func validateComponentBuild(p *field.Path, b *ComponentBuild) field.ErrorList {
	if b == nil {
		return nil
	}
	var errs field.ErrorList
	if b.PipelineRef != "" {
		errs = append(errs, oneOf(p.Child("pipelineRef"), b.PipelineRef, BuildCatalog...)...)
		if b.PipelineSpec != nil {
			errs = append(errs, field.Invalid(p.Child("pipelineSpec"), "<object>", "set pipelineRef or pipelineSpec, not both"))
		}
	}
	errs = append(errs, validateParams(p.Child("params"), b.Params)...)
	if b.Platform != "" && !platformRE.MatchString(b.Platform) {
		errs = append(errs, field.Invalid(p.Child("platform"), b.Platform, `an os/arch pair such as "linux/amd64" or "linux/arm64"`))
	}
	if b.PollInterval != nil && b.PollInterval.Duration < 0 {
		errs = append(errs, field.Invalid(p.Child("pollInterval"), b.PollInterval.Duration.String(), "must not be negative"))
	}
	if b.PollInterval != nil && b.PollInterval.Duration > 0 && b.PollInterval.Duration < 5*time.Second {
		errs = append(errs, field.Invalid(p.Child("pollInterval"), b.PollInterval.Duration.String(), "at least 5s (or 0s to disable polling)"))
	}
	if b.WebhookSecret != "" {
		errs = append(errs, dnsSubdomain(p.Child("webhookSecret"), b.WebhookSecret)...)
	}
	if b.Rebuild != "" {
		errs = append(errs, oneOf(p.Child("rebuild"), b.Rebuild, RebuildTransitive, RebuildDirect, RebuildLocal, RebuildNone)...)
	}
	errs = append(errs, nonEmptyStrings(p.Child("provides"), b.Provides)...)
	errs = append(errs, nonEmptyStrings(p.Child("requires"), b.Requires)...)
	if a := b.BootstrapArtifact; a != "" && !strings.Contains(a, "@sha256:") {
		errs = append(errs, field.Invalid(p.Child("bootstrapArtifact"), a, "must pin a digest: REPOSITORY@sha256:HEX"))
	}
	return append(errs, validateBootstrap(p.Child("bootstrap"), b.Bootstrap)...)
}

// validateBootstrap requires the parameters a bootstrap build differs by.
func validateBootstrap(p *field.Path, b *ComponentBootstrap) field.ErrorList {
	if b == nil {
		return nil
	}
	if len(b.Params) == 0 {
		return field.ErrorList{field.Required(p.Child("params"),
			"the parameters the bootstrap build sets, e.g. {name: profiles, value: stage1}; or drop spec.build.bootstrap")}
	}
	return validateParams(p.Child("params"), b.Params)
}

func validateDockerfileURL(p *field.Path, d string) field.ErrorList {
	switch {
	case strings.HasPrefix(d, "https://"):
		return nil
	case strings.Contains(d, "://"):
		return field.ErrorList{field.Invalid(p, d, "must be a path relative to context, or an https:// URL")}
	}
	return validateRelPath(p, d)
}

// validateBuildImage checks an image repository builds push to.
func validateBuildImage(p *field.Path, img string) field.ErrorList {
	ref, err := ParseImageReference(img)
	if err != nil {
		return field.ErrorList{field.Invalid(p, img, err.Error())}
	}
	if ref.Digest != "" {
		return field.ErrorList{field.Invalid(p, img, "builds push to a repository: drop the @digest")}
	}
	return nil
}

const componentNameUse = "it becomes a label value (kiln.dev/component) and a part of the image repository <registry>/<namespace>/<component>"

func init() {
	register(&Kind{
		Group: Group, Version: Version, Kind: "Component",
		Plural: "components", Singular: "component", ShortNames: []string{"comp"},
		Namespaced: true, HasStatus: true, ShortName: true,
		NameUse: componentNameUse,
		New:     func() Object { return &Component{} },
		Columns: componentColumns,
		Fields: func(o Object) map[string]string {
			return map[string]string{"spec.application": o.(*Component).Spec.Application}
		},
		Refs: func(o Object) []Ref {
			c := o.(*Component)
			return []Ref{{Kind: "Application", Namespace: c.Namespace, Name: c.Spec.Application,
				Path: field.NewPath("spec", "application"), Owner: true}}
		},
	})
}

var componentColumns = []Column{
	{Name: "Application", Type: "string", Value: func(o Object) string { return o.(*Component).Spec.Application }},
	{Name: "URL", Type: "string", Value: func(o Object) string { return componentGit(o).URL }},
	{Name: "Revision", Type: "string", Value: func(o Object) string { return componentGit(o).Revision }},
	{Name: "Last Built", Type: "string", Value: func(o Object) string {
		return shortCommit(o.(*Component).Status.LastBuiltCommit)
	}},
}

func componentGit(o Object) GitSource {
	if g := o.(*Component).Spec.Source.Git; g != nil {
		return *g
	}
	return GitSource{}
}

// shortCommit abbreviates a commit hash for display.
func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}
