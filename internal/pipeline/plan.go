package pipeline

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// PlanVersion is the version of the Plan format. It is part of every
// digest: bump it when the meaning of a plan changes.
const PlanVersion = 1

// Plan is a compiled pipeline: every reference resolved and every param
// and context variable substituted, tasks in a stable topological order.
// It is data; Run executes it. Only task result references
// ($(tasks.X.results.Y)) and task statuses remain, to be replaced at run
// time.
type Plan struct {
	Version  int    `json:"version"`
	Pipeline string `json:"pipeline"`
	// Params are the pipeline's param values, sorted by name.
	Params []NamedValue `json:"params,omitempty"`
	// Workspaces are the pipeline's workspaces; Kiln provides each as a
	// fresh directory, "source" holding the source.
	Workspaces []string `json:"workspaces,omitempty"`
	// Tasks run in this order (a task starts once its RunAfter finished).
	Tasks []*PlanTask `json:"tasks"`
	// Finally run after Tasks, whatever happened to them.
	Finally []*PlanTask `json:"finally,omitempty"`
	// Results are the pipeline's results, computed after the run.
	Results  []NamedValue `json:"results,omitempty"`
	Outputs  []Output     `json:"outputs,omitempty"`
	Timeouts *PlanTimeout `json:"timeouts,omitempty"`
}

// NamedValue is a named param or result value.
type NamedValue struct {
	Name  string     `json:"name"`
	Value ParamValue `json:"value"`
}

// PlanTask is one task of a plan.
type PlanTask struct {
	Name string `json:"name"`
	// Ref says where the steps came from: "catalog:go", "task:build" (a Task
	// in the pipeline's files) or "inline".
	Ref string `json:"ref"`
	// RunAfter are the tasks this one waits for (runAfter and result
	// references), sorted.
	RunAfter []string `json:"runAfter,omitempty"`
	// When are the expressions evaluated at run time (they use task
	// results or statuses); the others were evaluated by Compile.
	When []WhenExpression `json:"when,omitempty"`
	// Skip is why Compile found the task's when expressions false; the
	// task is recorded as skipped.
	Skip       string       `json:"skip,omitempty"`
	Timeout    Duration     `json:"timeout,omitzero"`
	Workspaces []Mount      `json:"workspaces,omitempty"`
	Results    []ResultDecl `json:"results,omitempty"`
	// Params are the task's param values (already substituted into the
	// steps), sorted by name.
	Params  []NamedValue `json:"params,omitempty"`
	Steps   []*PlanStep  `json:"steps"`
	Finally bool         `json:"finally,omitempty"`
	// RootWorkspace names the task workspace whose directory is the
	// writable root filesystem of its non-prefetch steps
	// (AnnotationRootWorkspace).
	RootWorkspace string `json:"rootWorkspace,omitempty"`
}

// Mount is a task workspace: the pipeline workspace (and sub-path) bound to
// it and where it is mounted. An unbound optional workspace has no
// Workspace.
type Mount struct {
	Name      string `json:"name"`
	Workspace string `json:"workspace,omitempty"`
	SubPath   string `json:"subPath,omitempty"`
	MountPath string `json:"mountPath"`
	ReadOnly  bool   `json:"readOnly,omitempty"`
}

// ResultDecl is a result a task writes to /tekton/results/<name>.
type ResultDecl struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// PlanStep is one step, ready to run.
type PlanStep struct {
	Name  string `json:"name"`
	Image string `json:"image"` // "host", or an image reference
	// Script, when set, is written to a file and run (a "#!/bin/sh\nset -e"
	// line is added when it has no #!); Args are its arguments.
	Script     string   `json:"script,omitempty"`
	Command    []string `json:"command,omitempty"`
	Args       []string `json:"args,omitempty"`
	WorkingDir string   `json:"workingDir,omitempty"`
	Env        []Env    `json:"env,omitempty"`
	Timeout    Duration `json:"timeout,omitzero"`
	// OnError "continue" lets the task go on when the step fails.
	OnError string `json:"onError,omitempty"`
	Memory  int64  `json:"memory,omitempty"` // bytes; 0 = the sandbox default
	// Prefetch steps run before every other step, with network access.
	Prefetch bool `json:"prefetch,omitempty"`
}

// Env is a step's environment variable: a value, or a secret reference the
// server resolves (RunOptions.Secret).
type Env struct {
	Name   string     `json:"name"`
	Value  string     `json:"value,omitempty"`
	Secret *SecretRef `json:"secret,omitempty"`
}

// SecretRef names a key of a Secret in the run's namespace.
type SecretRef struct {
	Name     string `json:"name"`
	Key      string `json:"key"`
	Optional bool   `json:"optional,omitempty"`
}

// Output kinds.
const (
	OutputDirectory = "directory"
	OutputImage     = "image"
)

// Output is an artifact of the build: a workspace's content as it is
// (directory), or an OCI image Kiln assembles from it after the sandboxed
// steps (image).
type Output struct {
	Kind      string       `json:"kind"`
	Name      string       `json:"name"` // the workspace (directory) or the pipeline task (image)
	Workspace string       `json:"workspace"`
	SubPath   string       `json:"subPath,omitempty"`
	Image     *ImageConfig `json:"image,omitempty"`
}

// ImageConfig is how Kiln assembles an image output.
type ImageConfig struct {
	Base       string            `json:"base,omitempty"` // "" = an empty image
	Prefix     string            `json:"prefix"`         // where the files go in the image
	Entrypoint []string          `json:"entrypoint,omitempty"`
	Cmd        []string          `json:"cmd,omitempty"`
	Env        []string          `json:"env,omitempty"`
	WorkingDir string            `json:"workingDir,omitempty"`
	User       string            `json:"user,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
}

// PlanTimeout bounds a run; zero means no bound.
type PlanTimeout struct {
	Pipeline Duration `json:"pipeline,omitzero"`
	Tasks    Duration `json:"tasks,omitzero"`
	Finally  Duration `json:"finally,omitzero"`
}

// Duration is a time.Duration written as "1h30m0s" in JSON.
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(time.Duration(d).String())), nil
}

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

// JSON is the plan's canonical JSON: encoding/json of the Plan (fields in
// declaration order, map keys sorted, no spaces, no HTML escaping).
func (p *Plan) JSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Digest is "sha256:" and the hex SHA-256 of the canonical JSON. It is
// stable across runs, machines and Kiln builds for the same plan, so it
// can key build caches and identify the build in provenance.
func (p *Plan) Digest() string {
	b, err := p.JSON()
	if err != nil {
		panic(fmt.Sprintf("marshalling plan: %v", err)) // every field marshals
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Task returns the task (or finally task) named name, or nil.
func (p *Plan) Task(name string) *PlanTask {
	for _, list := range [][]*PlanTask{p.Tasks, p.Finally} {
		for _, t := range list {
			if t.Name == name {
				return t
			}
		}
	}
	return nil
}

// Images returns the images the plan's steps use, in order of first use.
func (p *Plan) Images() []string {
	var out []string
	seen := map[string]bool{}
	for _, list := range [][]*PlanTask{p.Tasks, p.Finally} {
		for _, t := range list {
			for _, s := range t.Steps {
				if !seen[s.Image] {
					seen[s.Image] = true
					out = append(out, s.Image)
				}
			}
		}
	}
	return out
}
