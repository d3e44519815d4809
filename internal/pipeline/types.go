package pipeline

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The types below are the subset of tekton.dev/v1 that Kiln reads. Field
// names and JSON spellings are Tekton's; any Tekton field missing here is
// rejected by the strict decoder (see unsupported.go), never ignored.

// APIVersion is the only Tekton API version Kiln reads.
const APIVersion = "tekton.dev/v1"

// Kinds of Tekton documents.
const (
	KindTask        = "Task"
	KindPipeline    = "Pipeline"
	KindPipelineRun = "PipelineRun"
)

// Param types.
const (
	TypeString = "string"
	TypeArray  = "array"
	TypeObject = "object"
)

// Kiln's annotations (Tekton-valid: they go in metadata.annotations).
const (
	// AnnotationPrefetch on a Task (or an inline taskSpec's metadata) marks
	// prefetch steps: "true" for all the task's steps, or a comma-separated
	// list of step names. Prefetch steps run before every other step, with
	// network access; what they write under /kiln/prefetch is recorded.
	AnnotationPrefetch = "kiln.dev/prefetch"
	// AnnotationBuiltin on a catalog Task names an output Kiln assembles
	// itself after the sandboxed steps ("image"); such a task has no steps.
	AnnotationBuiltin = "kiln.dev/builtin"
	// AnnotationRootWorkspace on a Task names one of its workspaces whose
	// directory is the root filesystem of the task's (non-prefetch) steps,
	// writable: every top-level directory of it is bound writable over
	// itself (the sandbox's own /dev, /proc, /sys and /tmp stay). The
	// steps' image is not used. A pipeline builds a root filesystem this way
	// (the second stage of a bootstrap runs inside the tree it completes).
	AnnotationRootWorkspace = "kiln.dev/root-workspace"
	// AnnotationOutputWorkspace on a Pipeline names the workspace whose
	// content is the build's artifact; the default is the workspace named
	// "output", when the pipeline declares one.
	AnnotationOutputWorkspace = "kiln.dev/output-workspace"
	// AnnotationOnEvent is the Pipelines-as-Code annotation LoadFromRepo
	// reads to pick the push PipelineRun.
	AnnotationOnEvent = "pipelinesascode.tekton.dev/on-event"
	// AnnotationOnCEL is the Pipelines-as-Code CEL trigger annotation; an
	// expression containing `event == "push"` counts as a push trigger.
	AnnotationOnCEL = "pipelinesascode.tekton.dev/on-cel-expression"
)

// ObjectMeta is the part of Kubernetes metadata Kiln reads.
type ObjectMeta struct {
	Name         string            `json:"name,omitempty"`
	GenerateName string            `json:"generateName,omitempty"`
	Namespace    string            `json:"namespace,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

// TaskObject is a `kind: Task` document.
type TaskObject struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   ObjectMeta `json:"metadata"`
	Spec       TaskSpec   `json:"spec"`
}

// PipelineObject is a `kind: Pipeline` document.
type PipelineObject struct {
	APIVersion string       `json:"apiVersion"`
	Kind       string       `json:"kind"`
	Metadata   ObjectMeta   `json:"metadata"`
	Spec       PipelineSpec `json:"spec"`
}

// PipelineRunObject is a `kind: PipelineRun` document.
type PipelineRunObject struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Metadata   ObjectMeta      `json:"metadata"`
	Spec       PipelineRunSpec `json:"spec"`
}

// TaskSpec is a Task's spec.
type TaskSpec struct {
	DisplayName  string                 `json:"displayName,omitempty"`
	Description  string                 `json:"description,omitempty"`
	Params       []ParamSpec            `json:"params,omitempty"`
	Results      []TaskResult           `json:"results,omitempty"`
	Workspaces   []WorkspaceDeclaration `json:"workspaces,omitempty"`
	StepTemplate *StepTemplate          `json:"stepTemplate,omitempty"`
	Steps        []Step                 `json:"steps,omitempty"`
}

// ParamSpec declares a parameter.
type ParamSpec struct {
	Name        string                  `json:"name"`
	Type        string                  `json:"type,omitempty"`
	Description string                  `json:"description,omitempty"`
	Properties  map[string]PropertySpec `json:"properties,omitempty"`
	Default     *ParamValue             `json:"default,omitempty"`
	Enum        []string                `json:"enum,omitempty"`
}

// PropertySpec is the type of one key of an object param or result.
type PropertySpec struct {
	Type string `json:"type,omitempty"`
}

// TaskResult declares a result a task writes to /tekton/results/<name>.
type TaskResult struct {
	Name        string                  `json:"name"`
	Type        string                  `json:"type,omitempty"`
	Description string                  `json:"description,omitempty"`
	Properties  map[string]PropertySpec `json:"properties,omitempty"`
}

// WorkspaceDeclaration declares a workspace a task uses.
type WorkspaceDeclaration struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	MountPath   string `json:"mountPath,omitempty"`
	ReadOnly    bool   `json:"readOnly,omitempty"`
	Optional    bool   `json:"optional,omitempty"`
}

// StepTemplate holds defaults for every step of a task. Kiln supports its
// image, env and workingDir.
type StepTemplate struct {
	Image      string   `json:"image,omitempty"`
	Env        []EnvVar `json:"env,omitempty"`
	WorkingDir string   `json:"workingDir,omitempty"`
}

// Step is one command of a task.
type Step struct {
	Name             string            `json:"name,omitempty"`
	DisplayName      string            `json:"displayName,omitempty"`
	Image            string            `json:"image,omitempty"`
	Command          []string          `json:"command,omitempty"`
	Args             []string          `json:"args,omitempty"`
	Script           string            `json:"script,omitempty"`
	WorkingDir       string            `json:"workingDir,omitempty"`
	Env              []EnvVar          `json:"env,omitempty"`
	Timeout          *metav1.Duration  `json:"timeout,omitempty"`
	OnError          string            `json:"onError,omitempty"`
	ComputeResources *ComputeResources `json:"computeResources,omitempty"`
}

// ComputeResources: Kiln maps limits.memory to the sandbox's memory limit.
type ComputeResources struct {
	Limits *ResourceLimits `json:"limits,omitempty"`
}

// ResourceLimits are the limits Kiln enforces.
type ResourceLimits struct {
	Memory string `json:"memory,omitempty"`
}

// EnvVar is an environment variable of a step: a value, or a reference to
// a key of a Secret the server resolves at run time.
type EnvVar struct {
	Name      string        `json:"name"`
	Value     string        `json:"value,omitempty"`
	ValueFrom *EnvVarSource `json:"valueFrom,omitempty"`
}

// EnvVarSource: only secretKeyRef.
type EnvVarSource struct {
	SecretKeyRef *SecretKeySelector `json:"secretKeyRef,omitempty"`
}

// SecretKeySelector names a key of a Secret in the run's namespace.
type SecretKeySelector struct {
	Name     string `json:"name"`
	Key      string `json:"key"`
	Optional bool   `json:"optional,omitempty"`
}

// PipelineSpec is a Pipeline's spec.
type PipelineSpec struct {
	DisplayName string                         `json:"displayName,omitempty"`
	Description string                         `json:"description,omitempty"`
	Params      []ParamSpec                    `json:"params,omitempty"`
	Workspaces  []PipelineWorkspaceDeclaration `json:"workspaces,omitempty"`
	Results     []PipelineResult               `json:"results,omitempty"`
	Tasks       []PipelineTask                 `json:"tasks,omitempty"`
	Finally     []PipelineTask                 `json:"finally,omitempty"`
}

// PipelineWorkspaceDeclaration declares a workspace of the pipeline. Kiln
// provides every one as a fresh directory (the one named "source" holds the
// source).
type PipelineWorkspaceDeclaration struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Optional    bool   `json:"optional,omitempty"`
}

// PipelineResult is a result of the pipeline, computed from task results.
type PipelineResult struct {
	Name        string     `json:"name"`
	Type        string     `json:"type,omitempty"`
	Description string     `json:"description,omitempty"`
	Value       ParamValue `json:"value"`
}

// PipelineTask is one task of a pipeline.
type PipelineTask struct {
	Name        string                 `json:"name"`
	DisplayName string                 `json:"displayName,omitempty"`
	Description string                 `json:"description,omitempty"`
	TaskRef     *TaskRef               `json:"taskRef,omitempty"`
	TaskSpec    *EmbeddedTask          `json:"taskSpec,omitempty"`
	Params      []Param                `json:"params,omitempty"`
	RunAfter    []string               `json:"runAfter,omitempty"`
	Workspaces  []WorkspaceTaskBinding `json:"workspaces,omitempty"`
	When        []WhenExpression       `json:"when,omitempty"`
	Timeout     *metav1.Duration       `json:"timeout,omitempty"`
}

// TaskRef names a Task defined in the same files, or in Kiln's catalog.
type TaskRef struct {
	Name       string `json:"name"`
	Kind       string `json:"kind,omitempty"`
	APIVersion string `json:"apiVersion,omitempty"`
}

// EmbeddedTask is an inline taskSpec, with optional labels and annotations
// (where the kiln.dev/prefetch annotation goes).
type EmbeddedTask struct {
	Metadata *EmbeddedMeta `json:"metadata,omitempty"`
	TaskSpec
}

// EmbeddedMeta is the metadata an inline taskSpec may carry.
type EmbeddedMeta struct {
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Param passes a value to a parameter.
type Param struct {
	Name  string     `json:"name"`
	Value ParamValue `json:"value"`
}

// WorkspaceTaskBinding binds a task's workspace to one of the pipeline's.
type WorkspaceTaskBinding struct {
	Name      string `json:"name"`
	Workspace string `json:"workspace,omitempty"`
	SubPath   string `json:"subPath,omitempty"`
}

// WhenExpression guards a task: input must (in) or must not (notin) be one
// of values.
type WhenExpression struct {
	Input    string   `json:"input"`
	Operator string   `json:"operator"`
	Values   []string `json:"values"`
}

// PipelineRunSpec is a PipelineRun's spec.
type PipelineRunSpec struct {
	PipelineRef  *PipelineRef       `json:"pipelineRef,omitempty"`
	PipelineSpec *PipelineSpec      `json:"pipelineSpec,omitempty"`
	Params       []Param            `json:"params,omitempty"`
	Workspaces   []WorkspaceBinding `json:"workspaces,omitempty"`
	Timeouts     *Timeouts          `json:"timeouts,omitempty"`
}

// PipelineRef names a Pipeline defined in the same files.
type PipelineRef struct {
	Name       string `json:"name"`
	APIVersion string `json:"apiVersion,omitempty"`
}

// WorkspaceBinding binds a pipeline workspace in a PipelineRun. Kiln
// provides every workspace as a fresh directory, so only emptyDir and
// volumeClaimTemplate (both meaning "a fresh directory") are accepted.
type WorkspaceBinding struct {
	Name                string   `json:"name"`
	EmptyDir            *AnyJSON `json:"emptyDir,omitempty"`
	VolumeClaimTemplate *AnyJSON `json:"volumeClaimTemplate,omitempty"`
}

// Timeouts bound a pipeline run.
type Timeouts struct {
	Pipeline *metav1.Duration `json:"pipeline,omitempty"`
	Tasks    *metav1.Duration `json:"tasks,omitempty"`
	Finally  *metav1.Duration `json:"finally,omitempty"`
}
