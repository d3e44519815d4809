package attest

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ProvenanceInput is everything a SLSA provenance records about a build.
type ProvenanceInput struct {
	// Artifact is the subject: the pushed repository and manifest digest.
	Artifact Artifact
	Materials
	// Params are the pipeline parameters the build ran with.
	Params map[string]string
	// Namespace and Component name the Kiln component built.
	Namespace, Component string
	// BuilderID is the URI identifying this Kiln installation as a builder,
	// e.g. "https://kiln.example.com/builder/v1". Required; verifiers pin it.
	BuilderID string
	// BuilderVersion maps component names to versions ({"kiln": "v0.4.0"}).
	BuilderVersion map[string]string
	// BuildName is the Build object's name (the SLSA invocationId).
	BuildName string
	// StartedOn and FinishedOn bound the build (zero: omitted).
	StartedOn, FinishedOn time.Time
	// Log is the build log, recorded as a byproduct (optional).
	Log *File
	// Worker names the remote worker that ran the steps, if any.
	Worker *WorkerRun
}

// Provenance builds an in-toto Statement v1 whose predicate is a SLSA
// provenance v1 with buildType BuildType.
func Provenance(in ProvenanceInput) (*Statement, error) {
	if err := in.check(); err != nil {
		return nil, fmt.Errorf("provenance: %w", err)
	}
	deps, err := resolvedDependencies(in.Materials)
	if err != nil {
		return nil, fmt.Errorf("provenance: %w", err)
	}
	pred := &SLSAProvenance{
		BuildDefinition: BuildDefinition{
			BuildType:            BuildType,
			ExternalParameters:   externalParameters(in),
			ResolvedDependencies: deps,
		},
		RunDetails: RunDetails{
			Builder:  Builder{ID: in.BuilderID, Version: in.BuilderVersion},
			Metadata: metadata(in),
		},
	}
	if in.Namespace != "" || in.Component != "" || in.Worker != nil {
		pred.BuildDefinition.InternalParameters = &InternalParameters{Namespace: in.Namespace, Component: in.Component, Worker: in.Worker}
	}
	if in.Log != nil {
		log, err := fileDescriptor(*in.Log)
		if err != nil {
			return nil, fmt.Errorf("provenance: build log: %w", err)
		}
		log.MediaType = "text/plain"
		pred.RunDetails.Byproducts = []ResourceDescriptor{log}
	}
	st, err := NewStatement(in.Artifact, PredicateSLSA, pred)
	if err != nil {
		return nil, fmt.Errorf("provenance: %w", err)
	}
	return st, nil
}

func (in ProvenanceInput) check() error {
	var errs []error
	if in.BuilderID == "" {
		errs = append(errs, errors.New("a builder id is required"))
	}
	if in.Artifact.Name == "" {
		errs = append(errs, errors.New("the artifact's name is required"))
	}
	if in.Source.URL == "" || in.Source.Commit == "" {
		errs = append(errs, errors.New("the source URL and commit are required"))
	}
	return errors.Join(errs...)
}

func externalParameters(in ProvenanceInput) ExternalParameters {
	return ExternalParameters{
		Source:   SourceParameter{URI: gitURI(in.Source.URL), Ref: in.Source.Ref, Commit: in.Source.Commit},
		Pipeline: PipelineParameter{Source: in.Pipeline.Source, Digest: normalDigest(in.Pipeline.Digest)},
		Params:   in.Params,
	}
}

func metadata(in ProvenanceInput) *BuildMetadata {
	m := &BuildMetadata{InvocationID: in.BuildName, StartedOn: utc(in.StartedOn), FinishedOn: utc(in.FinishedOn)}
	if *m == (BuildMetadata{}) {
		return nil
	}
	return m
}

func utc(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC().Truncate(time.Second)
	return &t
}

// gitURI is the SPDX/SLSA VCS form of a clone URL: "git+https://…".
func gitURI(url string) string {
	if strings.HasPrefix(url, "git+") || strings.HasPrefix(url, "git://") {
		return url
	}
	return "git+" + url
}

// normalDigest writes a bare hex sha256 as "sha256:<hex>".
func normalDigest(d string) string {
	if d == "" || strings.Contains(d, ":") {
		return d
	}
	return "sha256:" + d
}

// resolvedDependencies lists the source commit, the pipeline, each distinct
// step image, each dependency artifact and each prefetched file.
func resolvedDependencies(m Materials) ([]ResourceDescriptor, error) {
	src, err := sourceDescriptor(m.Source)
	if err != nil {
		return nil, err
	}
	out := []ResourceDescriptor{src}
	if m.Pipeline.Digest != "" {
		set, err := digestSet(m.Pipeline.Digest)
		if err != nil {
			return nil, fmt.Errorf("pipeline: %w", err)
		}
		out = append(out, ResourceDescriptor{Name: "pipeline", URI: "kiln:pipeline/" + m.Pipeline.Source, Digest: set})
	}
	images, err := imageDescriptors(m.Steps)
	if err != nil {
		return nil, err
	}
	out = append(out, images...)
	for _, a := range m.Dependencies {
		set, err := digestSet(a.Digest)
		if err != nil {
			return nil, fmt.Errorf("dependency %s: %w", a.Name, err)
		}
		out = append(out, ResourceDescriptor{URI: "oci://" + a.Name, Digest: set})
	}
	for _, p := range m.Packages {
		d, err := fileDescriptor(File{Name: p.File, URL: p.URL, SHA256: p.SHA256})
		if err != nil {
			return nil, fmt.Errorf("package %s: %w", p.File, err)
		}
		out = append(out, d)
	}
	for _, f := range m.Prefetched {
		d, err := fileDescriptor(f)
		if err != nil {
			return nil, fmt.Errorf("prefetched %s: %w", f.URL, err)
		}
		out = append(out, d)
	}
	return out, nil
}

func sourceDescriptor(s Source) (ResourceDescriptor, error) {
	set := map[string]string{"gitCommit": strings.ToLower(s.Commit)}
	if s.TreeHash != "" {
		set["gitTree"] = strings.ToLower(s.TreeHash)
	}
	for alg, v := range set {
		if err := checkHex(alg, v); err != nil {
			return ResourceDescriptor{}, fmt.Errorf("source: %w", err)
		}
	}
	return ResourceDescriptor{URI: gitURI(s.URL) + "@" + s.Commit, Digest: set}, nil
}

// imageDescriptors lists each distinct step image once; steps that run on
// the host appear as "kiln:host".
func imageDescriptors(steps []StepImage) ([]ResourceDescriptor, error) {
	var out []ResourceDescriptor
	seen := map[string]bool{}
	for _, s := range steps {
		key := s.Image + "@" + s.Digest
		if seen[key] {
			continue
		}
		seen[key] = true
		switch {
		case s.Image == "host":
			out = append(out, ResourceDescriptor{URI: "kiln:host"})
			continue
		case s.Digest == "": // not pinned: recorded, but without a digest
			out = append(out, ResourceDescriptor{URI: "oci://" + s.Image})
			continue
		}
		set, err := digestSet(s.Digest)
		if err != nil {
			return nil, fmt.Errorf("step %s/%s image: %w", s.Task, s.Step, err)
		}
		out = append(out, ResourceDescriptor{URI: "oci://" + s.Image, Digest: set})
	}
	return out, nil
}

func fileDescriptor(f File) (ResourceDescriptor, error) {
	set, err := digestSet(f.SHA256)
	if err != nil {
		return ResourceDescriptor{}, err
	}
	return ResourceDescriptor{Name: f.Name, URI: f.URL, Digest: set}, nil
}
