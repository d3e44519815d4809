package attest

import (
	"encoding/json"
	"fmt"
	"time"
)

// Type strings of the formats this package writes.
const (
	StatementType          = "https://in-toto.io/Statement/v1"
	PredicateSLSA          = "https://slsa.dev/provenance/v1"
	PredicateSPDX          = "https://spdx.dev/Document"
	PredicateCycloneDX     = "https://cyclonedx.org/bom"
	PayloadTypeInToto      = "application/vnd.in-toto+json"
	MediaTypeDSSE          = "application/vnd.dsse.envelope.v1+json"
	MediaTypeSimpleSigning = "application/vnd.dev.cosign.simplesigning.v1+json"
	MediaTypeSPDX          = "application/spdx+json"
	MediaTypeCycloneDX     = "application/vnd.cyclonedx+json; version=1.6"

	// BuildType is the SLSA buildType of Kiln builds; README.md documents
	// its parameters.
	BuildType = "https://kiln.dev/build/v1"

	// Annotations cosign reads on signature and attestation layers.
	AnnotationSignature     = "dev.cosignproject.cosign/signature"
	AnnotationPredicateType = "predicateType"
)

// Statement is an in-toto Statement v1.
type Statement struct {
	Type          string    `json:"_type"`
	Subject       []Subject `json:"subject"`
	PredicateType string    `json:"predicateType"`
	// Predicate is marshalled as JSON: a *SLSAProvenance, a json.RawMessage
	// (e.g. an SPDX document) or any other value.
	Predicate any `json:"predicate"`
}

// Subject is one artifact a statement is about.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// NewStatement wraps predicate in a statement about one artifact.
func NewStatement(a Artifact, predicateType string, predicate any) (*Statement, error) {
	set, err := digestSet(a.Digest)
	if err != nil {
		return nil, fmt.Errorf("statement subject %s: %w", a.Name, err)
	}
	return &Statement{Type: StatementType, Subject: []Subject{{Name: a.Name, Digest: set}},
		PredicateType: predicateType, Predicate: predicate}, nil
}

// names reports whether the statement has a subject with digest d.
func (s *Statement) names(d string) bool {
	set, err := digestSet(d)
	if err != nil {
		return false
	}
	for _, sub := range s.Subject {
		for alg, v := range set {
			if sub.Digest[alg] == v {
				return true
			}
		}
	}
	return false
}

// SLSAProvenance is the SLSA provenance v1 predicate.
type SLSAProvenance struct {
	BuildDefinition BuildDefinition `json:"buildDefinition"`
	RunDetails      RunDetails      `json:"runDetails"`
}

// BuildDefinition says what was built and how (SLSA v1).
type BuildDefinition struct {
	BuildType            string               `json:"buildType"`
	ExternalParameters   ExternalParameters   `json:"externalParameters"`
	InternalParameters   *InternalParameters  `json:"internalParameters,omitempty"`
	ResolvedDependencies []ResourceDescriptor `json:"resolvedDependencies,omitempty"`
}

// ExternalParameters are the inputs a user controls (buildType kiln/v1).
type ExternalParameters struct {
	Source   SourceParameter   `json:"source"`
	Pipeline PipelineParameter `json:"pipeline"`
	Params   map[string]string `json:"params,omitempty"`
}

// SourceParameter is the git source of a Kiln build.
type SourceParameter struct {
	URI    string `json:"uri"`
	Ref    string `json:"ref,omitempty"`
	Commit string `json:"commit"`
}

// PipelineParameter is the pipeline a Kiln build ran.
type PipelineParameter struct {
	Source string `json:"source"`
	Digest string `json:"digest,omitempty"`
}

// InternalParameters are set by Kiln itself.
type InternalParameters struct {
	Namespace string `json:"namespace,omitempty"`
	Component string `json:"component,omitempty"`
	// Worker is set when a remote worker ran the steps.
	Worker *WorkerRun `json:"worker,omitempty"`
}

// WorkerRun says which remote worker ran a build's steps and which fields
// of the provenance rest on its word alone. The builder signed the
// provenance; it handed the worker the source, the pipeline, the step
// images by digest and the inputs, and recorded those itself.
type WorkerRun struct {
	Name     string `json:"name"`
	Platform string `json:"platform,omitempty"`
	// Reported lists the worker-reported parts, as JSON-ish paths of the
	// predicate (e.g. "subject", "resolvedDependencies[kiln:prefetch/*]").
	Reported []string `json:"reported"`
}

// ResourceDescriptor is an in-toto ResourceDescriptor (the fields used).
type ResourceDescriptor struct {
	Name      string            `json:"name,omitempty"`
	URI       string            `json:"uri,omitempty"`
	Digest    map[string]string `json:"digest,omitempty"`
	MediaType string            `json:"mediaType,omitempty"`
}

// RunDetails says who built it and when (SLSA v1).
type RunDetails struct {
	Builder    Builder              `json:"builder"`
	Metadata   *BuildMetadata       `json:"metadata,omitempty"`
	Byproducts []ResourceDescriptor `json:"byproducts,omitempty"`
}

// Builder identifies the trusted builder.
type Builder struct {
	ID      string            `json:"id"`
	Version map[string]string `json:"version,omitempty"`
}

// BuildMetadata identifies one run.
type BuildMetadata struct {
	InvocationID string     `json:"invocationId,omitempty"`
	StartedOn    *time.Time `json:"startedOn,omitempty"`
	FinishedOn   *time.Time `json:"finishedOn,omitempty"`
}

// decodedStatement is a statement read back, predicate still raw.
type decodedStatement struct {
	Type          string          `json:"_type"`
	Subject       []Subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

func (d *decodedStatement) statement() *Statement {
	return &Statement{Type: d.Type, Subject: d.Subject, PredicateType: d.PredicateType, Predicate: d.Predicate}
}
