package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Resolvers are the ways a pipeline definition can be fetched, as in Tekton's
// remote resolution: from a git repository, an OCI bundle, an object in the
// cluster, or Kiln's built-in catalog.
var Resolvers = []string{"git", "bundles", "cluster", "catalog"}

// Param is a named string parameter.
type Param struct {
	// Name of the parameter. Required; unique within its list.
	Name string `json:"name"`
	// Value of the parameter.
	Value string `json:"value"`
}

// ResolverRef says where a pipeline definition comes from (Tekton's remote
// resolution, as used by Konflux).
type ResolverRef struct {
	// Resolver is one of git, bundles, cluster, catalog. Required.
	Resolver string `json:"resolver"`
	// Params are the resolver's parameters, e.g. for git: url, revision,
	// pathInRepo; for bundles: bundle, name, kind.
	Params []Param `json:"params,omitempty"`
}

// Pipeline is a pipeline to run, with the identity and time limits to run it
// with (Konflux's tenantPipeline / pipeline shape).
type Pipeline struct {
	// PipelineRef says where the pipeline definition comes from. Required.
	PipelineRef ResolverRef `json:"pipelineRef"`
	// ServiceAccountName is the ServiceAccount (in the namespace the pipeline
	// runs in) whose identity the run uses. Optional.
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
	// Timeouts bound the run. Optional.
	Timeouts *Timeouts `json:"timeouts,omitempty"`
}

// Timeouts bound a pipeline run (Tekton's TimeoutFields). Durations are
// written like "1h30m".
type Timeouts struct {
	// Pipeline bounds the whole run, finally tasks included.
	Pipeline *metav1.Duration `json:"pipeline,omitempty"`
	// Tasks bounds the run's tasks, finally tasks excluded.
	Tasks *metav1.Duration `json:"tasks,omitempty"`
	// Finally bounds the finally tasks.
	Finally *metav1.Duration `json:"finally,omitempty"`
}

func validateResolverRef(p *field.Path, r ResolverRef) field.ErrorList {
	errs := oneOf(p.Child("resolver"), r.Resolver, Resolvers...)
	return append(errs, validateParams(p.Child("params"), r.Params)...)
}

func validatePipeline(p *field.Path, pl *Pipeline) field.ErrorList {
	if pl == nil {
		return nil
	}
	errs := validateResolverRef(p.Child("pipelineRef"), pl.PipelineRef)
	if pl.ServiceAccountName != "" {
		errs = append(errs, dnsSubdomain(p.Child("serviceAccountName"), pl.ServiceAccountName)...)
	}
	return append(errs, validateTimeouts(p.Child("timeouts"), pl.Timeouts)...)
}

func validateTimeouts(p *field.Path, t *Timeouts) field.ErrorList {
	if t == nil {
		return nil
	}
	var errs field.ErrorList
	names := []string{"pipeline", "tasks", "finally"}
	for i, d := range []*metav1.Duration{t.Pipeline, t.Tasks, t.Finally} {
		if d != nil && d.Duration < 0 {
			errs = append(errs, field.Invalid(p.Child(names[i]), d.Duration.String(), "must not be negative"))
		}
	}
	return errs
}
