package pipeline

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Context is what Compile substitutes for $(context...) variables. Kiln
// defines:
//
//	$(context.pipelineRun.name)       PipelineRunName (default: the PipelineRun's name, else "<pipeline>-run")
//	$(context.pipelineRun.namespace)  Namespace (default "default")
//	$(context.pipelineRun.uid)        UID
//	$(context.pipeline.name)          the pipeline's name
//	$(context.taskRun.name)           "<pipelineRun name>-<pipeline task name>"
//	$(context.taskRun.namespace)      Namespace
//	$(context.task.name)              the Task's name (the pipeline task's, for an inline taskSpec)
//	$(context.task.retry-count)       always "0" (Kiln does not retry)
//	$(context.pipelineTask.retries)   always "0"
//	$(context.kiln.git.url)           GitURL
//	$(context.kiln.git.revision)      GitRevision (the branch)
//	$(context.kiln.git.commit)        GitCommit
//	$(context.kiln.buildCounter)      BuildCounter
//
// A variable a plan uses becomes part of the plan and so of its digest;
// one it does not use does not.
type Context struct {
	PipelineRunName string
	Namespace       string
	UID             string
	GitURL          string
	GitRevision     string
	GitCommit       string
	BuildCounter    int
}

// CompileError lists every problem Compile found, each at a field path of
// the pipeline.
type CompileError struct {
	Pipeline string
	Errs     []FieldError
}

func (e *CompileError) Error() string {
	msgs := make([]string, len(e.Errs))
	for i, fe := range e.Errs {
		msgs[i] = fe.Error()
	}
	return "pipeline " + strconv.Quote(e.Pipeline) + ": " + strings.Join(msgs, "; ")
}

// compiler holds the state of one Compile.
type compiler struct {
	p      *Pipeline
	ctx    Context
	cat    *Catalog
	params map[string]ParamValue // the pipeline's param values
	pws    map[string]bool       // the pipeline's workspaces
	tasks  []*resolved           // tasks, then finally tasks, as declared
	byName map[string]*resolved
	errs   []FieldError
	plan   *Plan
}

// Compile turns a pipeline into a Plan: taskRefs resolved (Tasks of the
// pipeline's files first, then the catalog), params and context variables
// substituted, when expressions that do not depend on task results
// evaluated, result references and runAfter checked, tasks ordered. params
// override the PipelineRun's params and the defaults; values are strings,
// []string, []any, map[string]string, map[string]any or ParamValue, and a
// string holding a JSON array or object is accepted for an array or object
// param. Compile is a pure function of its inputs.
func Compile(p *Pipeline, params map[string]any, ctx Context) (*Plan, error) {
	c := newCompiler(p, ctx)
	c.resolveTasks()
	c.pipelineParams(params)
	c.runWorkspaces()
	if len(c.errs) > 0 {
		return nil, c.err()
	}
	c.compileTasks()
	c.order()
	c.pipelineResults()
	c.outputDirectory()
	c.timeouts()
	if len(c.errs) > 0 {
		return nil, c.err()
	}
	return c.plan, nil
}

func newCompiler(p *Pipeline, ctx Context) *compiler {
	c := &compiler{p: p, ctx: ctx, cat: p.Catalog, byName: map[string]*resolved{}, pws: map[string]bool{}}
	if c.cat == nil {
		c.cat = Builtin()
	}
	if c.ctx.PipelineRunName == "" {
		c.ctx.PipelineRunName = p.Name + "-run"
		if p.Run != nil && p.Run.Name != "" {
			c.ctx.PipelineRunName = p.Run.Name
		}
	}
	if c.ctx.Namespace == "" {
		c.ctx.Namespace = "default"
	}
	c.plan = &Plan{Version: PlanVersion, Pipeline: p.Name, Tasks: []*PlanTask{}}
	for i, w := range p.Spec.Workspaces {
		path := fmt.Sprintf("spec.workspaces[%d].name", i)
		c.checkName(path, w.Name, c.pws[w.Name])
		c.pws[w.Name] = true
		c.plan.Workspaces = append(c.plan.Workspaces, w.Name)
	}
	return c
}

func (c *compiler) err() error {
	return &CompileError{Pipeline: c.p.Name, Errs: c.errs}
}

func (c *compiler) fail(path, format string, args ...any) {
	c.errs = append(c.errs, FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// checkName checks a DNS-1123 label that must be unique.
func (c *compiler) checkName(path, name string, dup bool) {
	switch {
	case name == "":
		c.fail(path, "required")
	case dup:
		c.fail(path, "%q is used twice", name)
	default:
		if msgs := validation.IsDNS1123Label(name); len(msgs) > 0 {
			c.fail(path, "%q is not a valid name: %s", name, msgs[0])
		}
	}
}

// pipelineParams computes the pipeline's param values: given, else the
// PipelineRun's, else the default.
func (c *compiler) pipelineParams(given map[string]any) {
	c.params = map[string]ParamValue{}
	decls := map[string]ParamSpec{}
	for i, ps := range c.p.Spec.Params {
		path := fmt.Sprintf("spec.params[%d]", i)
		if ps, ok := c.checkParamSpec(path, ps, decls); ok {
			decls[ps.Name] = ps
		}
	}
	values := c.runParams(decls)
	for _, name := range slices.Sorted(maps.Keys(given)) {
		v, err := coerce(given[name], decls[name])
		if _, ok := decls[name]; !ok {
			err = fmt.Errorf("not declared by the pipeline (declared: %s)", declaredNames(c.p.Spec.Params))
		}
		if err != nil {
			c.fail("params."+name, "%v", err)
			continue
		}
		values[name] = v
	}
	for _, ps := range c.p.Spec.Params {
		if d, ok := decls[ps.Name]; ok {
			c.setParam(d, values)
		}
	}
	slices.SortFunc(c.plan.Params, func(a, b NamedValue) int { return strings.Compare(a.Name, b.Name) })
}

func (c *compiler) setParam(ps ParamSpec, values map[string]ParamValue) {
	v, ok := values[ps.Name]
	if !ok && ps.Default == nil {
		c.fail("params."+ps.Name, "required: the pipeline declares no default; pass a value")
		return
	}
	if !ok {
		v = *ps.Default
	}
	if err := checkValueType(ps, v); err != nil {
		c.fail("params."+ps.Name, "%v", err)
		return
	}
	c.params[ps.Name] = v
	c.plan.Params = append(c.plan.Params, NamedValue{ps.Name, v})
}

// runParams are the values the PipelineRun sets.
func (c *compiler) runParams(decls map[string]ParamSpec) map[string]ParamValue {
	values := map[string]ParamValue{}
	if c.p.Run == nil {
		return values
	}
	for i, p := range c.p.Run.Params {
		path := fmt.Sprintf("PipelineRun %q: spec.params[%d]", c.p.Run.Name, i)
		ps, ok := decls[p.Name]
		if !ok {
			c.fail(path, "param %q is not declared by the pipeline (declared: %s)", p.Name, declaredNames(c.p.Spec.Params))
			continue
		}
		v, err := coerce(p.Value, ps)
		if err != nil {
			c.fail(path, "%v", err)
			continue
		}
		values[p.Name] = v
	}
	return values
}

// runWorkspaces checks the PipelineRun's workspace bindings: Kiln provides
// every workspace as a fresh directory, so they only need to name one.
func (c *compiler) runWorkspaces() {
	if c.p.Run == nil {
		return
	}
	for i, w := range c.p.Run.Workspaces {
		if !c.pws[w.Name] {
			c.fail(fmt.Sprintf("PipelineRun %q: spec.workspaces[%d].name", c.p.Run.Name, i), "the pipeline declares no workspace %q", w.Name)
		}
	}
}

// checkParamSpec checks a declaration and infers its type from its default.
func (c *compiler) checkParamSpec(path string, ps ParamSpec, seen map[string]ParamSpec) (ParamSpec, bool) {
	_, dup := seen[ps.Name]
	switch {
	case ps.Name == "":
		c.fail(path+".name", "required")
		return ps, false
	case dup:
		c.fail(path+".name", "%q is declared twice", ps.Name)
		return ps, false
	}
	if ps.Type == "" {
		ps.Type = TypeString
		if ps.Default != nil {
			ps.Type = orString(ps.Default.Type)
		}
	}
	if ps.Type != TypeString && ps.Type != TypeArray && ps.Type != TypeObject {
		c.fail(path+".type", "%q: expected string, array or object", ps.Type)
		return ps, false
	}
	if ps.Default != nil {
		if err := checkValueType(ps, *ps.Default); err != nil {
			c.fail(path+".default", "%v", err)
			return ps, false
		}
	}
	return ps, true
}

// coerce converts a given value to the declared param's type: a string
// holding JSON is accepted for an array or object param.
func coerce(raw any, ps ParamSpec) (ParamValue, error) {
	v, err := paramValueOf(raw)
	if err != nil {
		return v, err
	}
	if v.Type == TypeString && (ps.Type == TypeArray || ps.Type == TypeObject) {
		var parsed any
		if json.Unmarshal([]byte(v.StringVal), &parsed) == nil {
			if pv, err := paramValueOf(parsed); err == nil && pv.Type == ps.Type {
				return pv, nil
			}
		}
	}
	return v, nil
}

// checkValueType checks a value against its declaration: type, object
// properties and enum.
func checkValueType(ps ParamSpec, v ParamValue) error {
	want := orString(ps.Type)
	if orString(v.Type) != want {
		return fmt.Errorf("expected %s, got %s", article(want), article(orString(v.Type)))
	}
	for _, k := range slices.Sorted(maps.Keys(ps.Properties)) {
		if _, ok := v.ObjectVal[k]; !ok {
			return fmt.Errorf("object has no key %q", k)
		}
	}
	if len(ps.Enum) > 0 && want == TypeString && !slices.Contains(ps.Enum, v.StringVal) {
		return fmt.Errorf("%q is not one of %s", v.StringVal, strings.Join(ps.Enum, ", "))
	}
	return nil
}

func article(t string) string {
	if t == TypeArray || t == TypeObject {
		return "an " + t
	}
	return "a " + t
}

func declaredNames(ps []ParamSpec) string {
	if len(ps) == 0 {
		return "none"
	}
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}

// contextVars are the $(context...) values for a task (nil: pipeline level).
func (c *compiler) contextVars(r *resolved) map[string]string {
	m := map[string]string{
		"pipelineRun.name":      c.ctx.PipelineRunName,
		"pipelineRun.namespace": c.ctx.Namespace,
		"pipelineRun.uid":       c.ctx.UID,
		"pipeline.name":         c.p.Name,
		"kiln.git.url":          c.ctx.GitURL,
		"kiln.git.revision":     c.ctx.GitRevision,
		"kiln.git.commit":       c.ctx.GitCommit,
		"kiln.buildCounter":     strconv.Itoa(c.ctx.BuildCounter),
	}
	if r != nil {
		m["taskRun.name"] = c.ctx.PipelineRunName + "-" + r.pt.Name
		m["taskRun.namespace"] = c.ctx.Namespace
		m["task.name"] = r.task.Name
		m["task.retry-count"] = "0"
		m["pipelineTask.retries"] = "0"
	}
	return m
}

func (c *compiler) contextRef(ref varRef, r *resolved) (ParamValue, bool, error) {
	vars := c.contextVars(r)
	v, ok := vars[strings.Join(ref.parts, ".")]
	if !ok || ref.star || ref.index >= 0 {
		return ParamValue{}, false, fmt.Errorf("%s: unknown context variable (Kiln defines: %s)", ref.text, strings.Join(slices.Sorted(maps.Keys(vars)), ", "))
	}
	return String(v), false, nil
}

// paramRef resolves $(params.NAME), $(params.NAME.KEY), [N] and [*].
func paramRef(ref varRef, values map[string]ParamValue) (ParamValue, bool, error) {
	if len(ref.parts) == 0 || len(ref.parts) > 2 {
		return ParamValue{}, false, fmt.Errorf("%s: expected $(params.NAME) or $(params.NAME.KEY)", ref.text)
	}
	v, ok := values[ref.parts[0]]
	if !ok {
		return ParamValue{}, false, fmt.Errorf("%s: no param %q (declared: %s)", ref.text, ref.parts[0], strings.Join(slices.Sorted(maps.Keys(values)), ", "))
	}
	key := ""
	if len(ref.parts) == 2 {
		key = ref.parts[1]
	}
	v, err := selectValue(ref, v, key)
	return v, false, err
}
