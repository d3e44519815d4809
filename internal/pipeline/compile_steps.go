package pipeline

import (
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// HostImage is the image name meaning "the host's root filesystem".
const HostImage = "host"

// Paths inside the sandbox.
const (
	ResultsDir  = "/tekton/results"
	ScriptsDir  = "/tekton/scripts"
	HomeDir     = "/tekton/home"
	PrefetchDir = "/kiln/prefetch"
	// BuildrootDir holds the artifacts of the components a build requires,
	// one directory per component, read-only (RunOptions.Buildroot).
	BuildrootDir = "/kiln/deps"
	// BuildrootImage as a step's image is the buildroot the server
	// composes for the build (a base image plus the resolved build
	// dependencies); see internal/buildroot. kiln run cannot run it.
	BuildrootImage = "kiln.dev/buildroot"
)

// taskLookup resolves variables in a task's steps.
func (c *compiler) taskLookup(r *resolved, params map[string]ParamValue, mounts map[string]Mount) lookup {
	return func(ref varRef) (ParamValue, bool, error) {
		switch ref.root {
		case "params":
			if _, ok := params[ref.parts0()]; !ok && r.ref == "inline" {
				return paramRef(ref, c.params) // propagated pipeline params
			}
			return paramRef(ref, params)
		case "context":
			return c.contextRef(ref, r)
		case "tasks":
			return c.tasksRef(ref, r)
		case "workspaces":
			return workspaceRef(ref, mounts)
		case "results":
			if len(ref.parts) == 2 && ref.parts[1] == "path" && r.results[ref.parts[0]] != "" {
				return String(ResultsDir + "/" + ref.parts[0]), false, nil
			}
			return ParamValue{}, false, fmt.Errorf("%s: expected $(results.NAME.path) of a declared result (results: %s)", ref.text, strings.Join(slices.Sorted(maps.Keys(r.results)), ", "))
		}
		return ParamValue{}, false, fmt.Errorf("%s: not supported by Kiln (step results and StepActions are not)", ref.text)
	}
}

func (r varRef) parts0() string {
	if len(r.parts) == 0 {
		return ""
	}
	return r.parts[0]
}

// workspaceRef resolves $(workspaces.NAME.path|bound|claim|volume).
func workspaceRef(ref varRef, mounts map[string]Mount) (ParamValue, bool, error) {
	if len(ref.parts) != 2 {
		return ParamValue{}, false, fmt.Errorf("%s: expected $(workspaces.NAME.path)", ref.text)
	}
	m, ok := mounts[ref.parts[0]]
	if !ok {
		return ParamValue{}, false, fmt.Errorf("%s: the task declares no workspace %q", ref.text, ref.parts[0])
	}
	bound := m.Workspace != ""
	switch ref.parts[1] {
	case "path":
		if !bound {
			return String(""), false, nil
		}
		return String(m.MountPath), false, nil
	case "bound":
		return String(fmt.Sprint(bound)), false, nil
	case "claim":
		return String(""), false, nil
	case "volume":
		return String(m.Workspace), false, nil
	}
	return ParamValue{}, false, fmt.Errorf("%s: expected path, bound, claim or volume", ref.text)
}

// compileSteps substitutes every step of the task.
func (c *compiler) compileSteps(r *resolved, look lookup) []*PlanStep {
	spec := r.task.Spec
	if len(spec.Steps) == 0 {
		c.fail(r.scope()+".steps", "required: a task needs at least one step")
	}
	prefetch := c.prefetchSteps(r)
	var steps []*PlanStep
	seen := map[string]bool{}
	for i, st := range spec.Steps {
		sp := fmt.Sprintf("%s.steps[%d]", r.scope(), i)
		if st.Name == "" {
			st.Name = fmt.Sprintf("unnamed-%d", i)
		}
		c.checkName(sp+".name", st.Name, seen[st.Name])
		seen[st.Name] = true
		s := c.compileStep(sp, applyTemplate(st, spec.StepTemplate), look)
		s.Prefetch = prefetch[st.Name] || prefetch["true"]
		delete(prefetch, st.Name)
		c.checkPrefetch(sp, r, s)
		steps = append(steps, s)
	}
	for _, name := range slices.Sorted(maps.Keys(prefetch)) {
		if name != "true" {
			c.fail(r.scope(), "annotation %s names no step %q", AnnotationPrefetch, name)
		}
	}
	return steps
}

// prefetchSteps reads the kiln.dev/prefetch annotation: "true" or step
// names.
func (c *compiler) prefetchSteps(r *resolved) map[string]bool {
	v, ok := r.task.Annotations[AnnotationPrefetch]
	out := map[string]bool{}
	if !ok || v == "false" {
		return out
	}
	for name := range strings.SplitSeq(v, ",") {
		if name = strings.TrimSpace(name); name != "" {
			out[name] = true
		}
	}
	if r.finally && len(out) > 0 {
		c.fail(r.path, "finally tasks cannot have prefetch steps (annotation %s)", AnnotationPrefetch)
	}
	return out
}

func (c *compiler) checkPrefetch(path string, r *resolved, s *PlanStep) {
	if !s.Prefetch {
		return
	}
	fields := append([]string{s.Script, s.WorkingDir}, append(s.Command, s.Args...)...)
	for _, e := range s.Env {
		fields = append(fields, e.Value)
	}
	switch {
	case hasTaskRefs(fields...):
		c.fail(path, "a prefetch step runs before every task: it cannot use task results")
	case len(r.pt.When) > 0 && hasTaskRefs(whenStrings(r.pt.When)...):
		c.fail(path, "a prefetch step runs before every task: its task's when expressions cannot use task results")
	}
}

func whenStrings(ws []WhenExpression) []string {
	var out []string
	for _, w := range ws {
		out = append(append(out, w.Input), w.Values...)
	}
	return out
}

// applyTemplate merges the task's stepTemplate into a step.
func applyTemplate(st Step, tpl *StepTemplate) Step {
	if tpl == nil {
		return st
	}
	if st.Image == "" {
		st.Image = tpl.Image
	}
	if st.WorkingDir == "" {
		st.WorkingDir = tpl.WorkingDir
	}
	env := slices.Clone(tpl.Env)
	for _, e := range st.Env {
		env = slices.DeleteFunc(env, func(t EnvVar) bool { return t.Name == e.Name })
		env = append(env, e)
	}
	st.Env = env
	return st
}

// compileStep substitutes one step's fields and checks them.
func (c *compiler) compileStep(sp string, st Step, look lookup) *PlanStep {
	s := &PlanStep{Name: st.Name, OnError: st.OnError}
	var err error
	field := func(name string, e error) {
		if e != nil {
			c.fail(sp+"."+name, "%v", e)
		}
	}
	s.Image, err = substString(st.Image, look)
	field("image", err)
	s.Script, err = substString(st.Script, look)
	field("script", err)
	s.Command, err = substList(st.Command, look)
	field("command", err)
	s.Args, err = substList(st.Args, look)
	field("args", err)
	s.WorkingDir, err = substString(st.WorkingDir, look)
	field("workingDir", err)
	if path.IsAbs(s.WorkingDir) {
		s.WorkingDir = path.Clean(s.WorkingDir)
	}
	s.Env = c.compileEnv(sp, st.Env, look)
	c.stepLimits(sp, st, s)
	c.checkStep(sp, st, s)
	return s
}

func (c *compiler) compileEnv(path string, env []EnvVar, look lookup) []Env {
	var out []Env
	for i, e := range env {
		ep := fmt.Sprintf("%s.env[%d]", path, i)
		if msgs := validation.IsEnvVarName(e.Name); len(msgs) > 0 {
			c.fail(ep+".name", "%q: %s", e.Name, msgs[0])
		}
		v, err := substString(e.Value, look)
		if err != nil {
			c.fail(ep+".value", "%v", err)
		}
		pe := Env{Name: e.Name, Value: v}
		if ref := e.ValueFrom; ref != nil && ref.SecretKeyRef != nil {
			pe.Secret = c.secretRef(ep+".valueFrom.secretKeyRef", *ref.SecretKeyRef, look)
		} else if ref != nil {
			c.fail(ep+".valueFrom", "required: secretKeyRef")
		}
		if pe.Secret != nil && e.Value != "" {
			c.fail(ep, "set value or valueFrom, not both")
		}
		out = append(out, pe)
	}
	return out
}

func (c *compiler) secretRef(path string, ref SecretKeySelector, look lookup) *SecretRef {
	name, err1 := substString(ref.Name, look)
	key, err2 := substString(ref.Key, look)
	if err := errors.Join(err1, err2); err != nil {
		c.fail(path, "%v", err)
	}
	if name == "" || key == "" {
		c.fail(path, "name and key are required")
	}
	if hasTaskRefs(name, key) {
		c.fail(path, "a secret reference cannot use task results")
	}
	return &SecretRef{Name: name, Key: key, Optional: ref.Optional}
}

func (c *compiler) stepLimits(path string, st Step, s *PlanStep) {
	if st.Timeout != nil {
		s.Timeout = Duration(st.Timeout.Duration)
	}
	if st.ComputeResources == nil || st.ComputeResources.Limits == nil || st.ComputeResources.Limits.Memory == "" {
		return
	}
	q, err := resource.ParseQuantity(st.ComputeResources.Limits.Memory)
	if err != nil || q.Sign() <= 0 {
		c.fail(path+".computeResources.limits.memory", "%q: expected a quantity such as 512Mi", st.ComputeResources.Limits.Memory)
		return
	}
	s.Memory = q.Value()
}

func (c *compiler) checkStep(path string, st Step, s *PlanStep) {
	switch {
	case s.Image == "":
		c.fail(path+".image", "required (%q runs on the host's root filesystem)", HostImage)
	case hasTaskRefs(s.Image):
		c.fail(path+".image", "%q: an image cannot depend on task results", s.Image)
	}
	switch {
	case st.Script != "" && len(st.Command) > 0:
		c.fail(path, "set script or command, not both")
	case st.Script == "" && len(st.Command) == 0:
		c.fail(path, "script or command is required")
	}
	if st.OnError != "" && st.OnError != "continue" && st.OnError != "stopAndFail" {
		c.fail(path+".onError", "%q: expected continue or stopAndFail", st.OnError)
	}
	if st.Timeout != nil && st.Timeout.Duration < 0 {
		c.fail(path+".timeout", "must not be negative")
	}
}

// compileBuiltin turns an oci-image task into an image output.
func (c *compiler) compileBuiltin(r *resolved) {
	n := len(c.errs)
	switch {
	case r.finally:
		c.fail(r.path, "%q (an %s output) cannot be a finally task", r.pt.Name, r.builtin)
	case len(r.pt.When) > 0:
		c.fail(r.path+".when", "not supported for %s outputs", r.builtin)
	case len(r.task.Spec.Steps) > 0:
		c.fail(r.scope()+".steps", "a builtin task has no steps")
	}
	params := c.bindParams(r)
	mounts := c.bindWorkspaces(r)
	c.checkRunAfter(r)
	out, ok := mounts["output"]
	if !ok || out.Workspace == "" {
		c.fail(r.path+".workspaces", "bind the workspace \"output\" to the workspace holding the image's files")
	}
	if len(c.errs) > n {
		return
	}
	img, err := imageConfig(params)
	if err != nil {
		c.fail(r.path+".params", "%v", err)
		return
	}
	c.plan.Outputs = append(c.plan.Outputs, Output{Kind: OutputImage, Name: r.pt.Name, Workspace: out.Workspace, SubPath: out.SubPath, Image: img})
}

func imageConfig(p map[string]ParamValue) (*ImageConfig, error) {
	img := &ImageConfig{
		Base: p["base"].StringVal, Prefix: p["prefix"].StringVal,
		Entrypoint: p["entrypoint"].ArrayVal, Cmd: p["cmd"].ArrayVal, Env: p["env"].ArrayVal,
		WorkingDir: p["working-dir"].StringVal, User: p["user"].StringVal,
	}
	var errs []error
	switch {
	case !strings.HasPrefix(img.Prefix, "/"):
		errs = append(errs, fmt.Errorf("prefix %q: expected an absolute path", img.Prefix))
	case slices.Contains(strings.Split(img.Prefix, "/"), ".."):
		errs = append(errs, fmt.Errorf("prefix %q: \"..\" is not allowed: name a directory of the image, e.g. /app", img.Prefix))
	}
	for _, e := range img.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			errs = append(errs, fmt.Errorf("env %q: expected KEY=VALUE", e))
		}
	}
	for _, l := range p["labels"].ArrayVal {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			errs = append(errs, fmt.Errorf("labels %q: expected key=value", l))
			continue
		}
		if img.Labels == nil {
			img.Labels = map[string]string{}
		}
		img.Labels[k] = v
	}
	if hasTaskRefs(append(append(append([]string{img.Base, img.WorkingDir, img.User}, img.Entrypoint...), img.Cmd...), img.Env...)...) {
		errs = append(errs, errors.New("an image output cannot use task results"))
	}
	return img, errors.Join(errs...)
}
