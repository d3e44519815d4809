package pipeline

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
)

// resolved is a pipeline task with its Task spec found.
type resolved struct {
	pt      *PipelineTask
	path    string // spec.tasks[i] or spec.finally[i]
	index   int    // declaration order over tasks then finally
	finally bool
	task    *Task  // the spec; for an inline taskSpec, named after the pipeline task
	ref     string // catalog:NAME, task:NAME or inline
	builtin string // the kiln.dev/builtin annotation of a catalog task
	params  map[string]ParamSpec
	results map[string]string // result name -> type
	deps    map[string]bool   // tasks whose results it uses
}

// resolveTasks finds the spec of every pipeline task.
func (c *compiler) resolveTasks() {
	if len(c.p.Spec.Tasks) == 0 {
		c.fail("spec.tasks", "required: a pipeline needs at least one task")
	}
	lists := []struct {
		name    string
		tasks   []PipelineTask
		finally bool
	}{{"spec.tasks", c.p.Spec.Tasks, false}, {"spec.finally", c.p.Spec.Finally, true}}
	for _, l := range lists {
		for i := range l.tasks {
			r := &resolved{pt: &l.tasks[i], path: fmt.Sprintf("%s[%d]", l.name, i), index: len(c.tasks), finally: l.finally, deps: map[string]bool{}}
			c.checkName(r.path+".name", r.pt.Name, c.byName[r.pt.Name] != nil)
			if c.resolveSpec(r) {
				c.tasks = append(c.tasks, r)
				c.byName[r.pt.Name] = r
			}
		}
	}
}

// resolveSpec finds a task's spec and indexes its params and results.
func (c *compiler) resolveSpec(r *resolved) bool {
	pt := r.pt
	switch {
	case pt.TaskRef != nil && pt.TaskSpec != nil:
		c.fail(r.path, "set taskRef or taskSpec, not both")
		return false
	case pt.TaskSpec != nil:
		r.task, r.ref = &Task{Name: pt.Name, Spec: pt.TaskSpec.TaskSpec, Origin: "inline"}, "inline"
		if m := pt.TaskSpec.Metadata; m != nil {
			r.task.Annotations = m.Annotations
		}
	case pt.TaskRef != nil:
		if !c.lookupTask(r) {
			return false
		}
	default:
		c.fail(r.path, "taskRef or taskSpec is required")
		return false
	}
	return c.indexSpec(r)
}

func (c *compiler) lookupTask(r *resolved) bool {
	ref := r.pt.TaskRef
	if ref.Kind != "" && ref.Kind != KindTask {
		c.fail(r.path+".taskRef.kind", "%q is not supported by Kiln: only Task", ref.Kind)
		return false
	}
	if t, ok := c.p.Tasks[ref.Name]; ok {
		r.task, r.ref = t, "task:"+ref.Name
		return true
	}
	if t, ok := c.cat.Task(ref.Name); ok {
		r.task, r.ref, r.builtin = t, "catalog:"+ref.Name, t.Annotations[AnnotationBuiltin]
		return true
	}
	c.fail(r.path+".taskRef.name", "no Task %q in the pipeline's files or in Kiln's catalog (catalog: %s)", ref.Name, strings.Join(c.cat.Names(), ", "))
	return false
}

// scope is where a task's own spec is, for messages: a path for inline
// specs, the Task's name and origin for referenced ones.
func (r *resolved) scope() string {
	if r.ref == "inline" {
		return r.path + ".taskSpec"
	}
	return fmt.Sprintf("%s (Task %q from %s)", r.path, r.task.Name, r.task.Origin)
}

func (c *compiler) indexSpec(r *resolved) bool {
	n := len(c.errs)
	r.params, r.results = map[string]ParamSpec{}, map[string]string{}
	for i, ps := range r.task.Spec.Params {
		if ps, ok := c.checkParamSpec(fmt.Sprintf("%s.params[%d]", r.scope(), i), ps, r.params); ok {
			r.params[ps.Name] = ps
		}
	}
	for i, res := range r.task.Spec.Results {
		path := fmt.Sprintf("%s.results[%d]", r.scope(), i)
		t := orString(res.Type)
		switch {
		case res.Name == "" || r.results[res.Name] != "":
			c.fail(path+".name", "required and unique")
		case t != TypeString && t != TypeArray && t != TypeObject:
			c.fail(path+".type", "%q: expected string, array or object", res.Type)
		}
		r.results[res.Name] = t
	}
	if r.builtin != "" && r.builtin != OutputImage {
		c.fail(r.path, "catalog task %q: unknown %s %q", r.task.Name, AnnotationBuiltin, r.builtin)
	}
	return len(c.errs) == n
}

// compileTasks compiles every resolved task into the plan.
func (c *compiler) compileTasks() {
	for _, r := range c.tasks {
		if r.builtin != "" {
			c.compileBuiltin(r)
			continue
		}
		if t := c.compileTask(r); t != nil && r.finally {
			c.plan.Finally = append(c.plan.Finally, t)
		} else if t != nil {
			c.plan.Tasks = append(c.plan.Tasks, t)
		}
	}
}

func (c *compiler) compileTask(r *resolved) *PlanTask {
	n := len(c.errs)
	t := &PlanTask{Name: r.pt.Name, Ref: r.ref, Finally: r.finally}
	if r.pt.Timeout != nil {
		t.Timeout = Duration(r.pt.Timeout.Duration)
	}
	params := c.bindParams(r)
	mounts := c.bindWorkspaces(r)
	t.Workspaces = slices.SortedFunc(maps.Values(mounts), func(a, b Mount) int { return strings.Compare(a.Name, b.Name) })
	for _, name := range slices.Sorted(maps.Keys(params)) {
		t.Params = append(t.Params, NamedValue{name, params[name]})
	}
	for _, res := range r.task.Spec.Results {
		t.Results = append(t.Results, ResultDecl{res.Name, orString(res.Type)})
	}
	t.When, t.Skip = c.compileWhen(r)
	t.RootWorkspace = c.rootWorkspace(r, mounts)
	if len(c.errs) > n {
		return nil
	}
	t.Steps = c.compileSteps(r, c.taskLookup(r, params, mounts))
	c.checkRunAfter(r)
	t.RunAfter = slices.Sorted(maps.Keys(r.deps))
	if len(c.errs) > n {
		return nil
	}
	return t
}

// rootWorkspace reads the kiln.dev/root-workspace annotation: a bound,
// writable workspace of the task.
func (c *compiler) rootWorkspace(r *resolved, mounts map[string]Mount) string {
	name, ok := r.task.Annotations[AnnotationRootWorkspace]
	if !ok {
		return ""
	}
	m, found := mounts[name]
	switch {
	case !found:
		c.fail(r.scope(), "annotation %s names no workspace %q of the task", AnnotationRootWorkspace, name)
	case m.Workspace == "":
		c.fail(r.scope(), "annotation %s: workspace %q is not bound", AnnotationRootWorkspace, name)
	case m.ReadOnly:
		c.fail(r.scope(), "annotation %s: workspace %q is read-only", AnnotationRootWorkspace, name)
	}
	return name
}

// checkRunAfter adds runAfter to the task's dependencies.
func (c *compiler) checkRunAfter(r *resolved) {
	for i, name := range r.pt.RunAfter {
		path := fmt.Sprintf("%s.runAfter[%d]", r.path, i)
		dep, ok := c.byName[name]
		switch {
		case r.finally:
			c.fail(path, "not supported by Kiln in finally tasks: they run after all tasks")
		case !ok || dep.finally:
			c.fail(path, "no task %q in spec.tasks", name)
		case name == r.pt.Name:
			c.fail(path, "a task cannot run after itself")
		case dep.builtin != "":
			c.fail(path, "%q is an %s output Kiln assembles after every task: nothing can run after it", name, dep.builtin)
		default:
			r.deps[name] = true
		}
	}
}

// pipelineLookup resolves variables in pipeline task params, when
// expressions and pipeline results.
func (c *compiler) pipelineLookup(r *resolved) lookup {
	return func(ref varRef) (ParamValue, bool, error) {
		switch ref.root {
		case "params":
			return paramRef(ref, c.params)
		case "context":
			return c.contextRef(ref, nil)
		case "tasks":
			return c.tasksRef(ref, r)
		case "workspaces":
			if len(ref.parts) == 2 && ref.parts[1] == "bound" && c.pws[ref.parts[0]] {
				return String("true"), false, nil
			}
			return ParamValue{}, false, fmt.Errorf("%s: only $(workspaces.NAME.bound) of a pipeline workspace can be used here", ref.text)
		}
		return ParamValue{}, false, fmt.Errorf("%s cannot be used in a pipeline", ref.text)
	}
}

// tasksRef checks $(tasks.T.results.R...), $(tasks.T.status) and
// $(tasks.status), which are resolved at run time, and records the
// dependency on T. r is nil for pipeline results.
func (c *compiler) tasksRef(ref varRef, r *resolved) (ParamValue, bool, error) {
	p := ref.parts
	finally := r == nil || r.finally
	switch {
	case len(p) == 1 && p[0] == "status" && finally:
		return ParamValue{}, true, nil
	case len(p) == 2 && p[1] == "status" && finally:
		_, err := c.refTask(ref, p[0], r)
		return ParamValue{}, true, err
	case len(p) >= 3 && len(p) <= 4 && p[1] == "results":
		dep, err := c.refTask(ref, p[0], r)
		if err != nil {
			return ParamValue{}, true, err
		}
		if _, ok := dep.results[p[2]]; !ok {
			return ParamValue{}, true, fmt.Errorf("%s: task %q has no result %q (results: %s)", ref.text, p[0], p[2], strings.Join(slices.Sorted(maps.Keys(dep.results)), ", "))
		}
		if r != nil && !r.finally {
			r.deps[p[0]] = true
		}
		return ParamValue{}, true, nil
	case len(p) <= 2 && (len(p) == 0 || p[len(p)-1] == "status"):
		return ParamValue{}, true, fmt.Errorf("%s: task statuses can be used only in finally tasks and pipeline results", ref.text)
	}
	return ParamValue{}, true, fmt.Errorf("%s: expected $(tasks.NAME.results.RESULT)", ref.text)
}

func (c *compiler) refTask(ref varRef, name string, r *resolved) (*resolved, error) {
	dep, ok := c.byName[name]
	switch {
	case !ok || (dep.finally && r != nil): // pipeline results (r == nil) may use finally tasks
		return nil, fmt.Errorf("%s: no task %q in spec.tasks", ref.text, name)
	case r != nil && name == r.pt.Name:
		return nil, fmt.Errorf("%s: a task cannot use its own results", ref.text)
	case dep.builtin != "":
		return nil, fmt.Errorf("%s: %q is an %s output Kiln assembles after every task", ref.text, name, dep.builtin)
	}
	return dep, nil
}

// bindParams computes a task's param values from the pipeline task's params
// and the task's defaults.
func (c *compiler) bindParams(r *resolved) map[string]ParamValue {
	values := map[string]ParamValue{}
	look := c.pipelineLookup(r)
	for i, p := range r.pt.Params {
		path := fmt.Sprintf("%s.params[%d]", r.path, i)
		ps, declared := r.params[p.Name]
		_, dup := values[p.Name]
		switch {
		case !declared:
			c.fail(path, "param %q is not declared by Task %q (declared: %s)", p.Name, r.task.Name, declaredNames(r.task.Spec.Params))
			continue
		case dup:
			c.fail(path, "param %q is set twice", p.Name)
			continue
		}
		v, err := substValue(p.Value, look)
		if err == nil {
			v, err = fitType(v, ps)
		}
		if err != nil {
			c.fail(path, "param %q: %v", p.Name, err)
		}
		values[p.Name] = v
	}
	c.defaults(r, values)
	return values
}

// defaults fills in the task's defaults; $(context...) variables are
// substituted in them.
func (c *compiler) defaults(r *resolved, values map[string]ParamValue) {
	look := func(ref varRef) (ParamValue, bool, error) {
		if ref.root == "context" {
			return c.contextRef(ref, r)
		}
		return ParamValue{}, true, nil
	}
	for _, ps := range r.task.Spec.Params {
		if _, ok := values[ps.Name]; ok || r.params[ps.Name].Name == "" {
			continue
		}
		if ps.Default == nil {
			c.fail(r.path+".params", "param %q is required by Task %q: it has no default", ps.Name, r.task.Name)
			continue
		}
		v, err := substValue(*ps.Default, look)
		if err != nil {
			c.fail(r.scope()+".params", "default of %q: %v", ps.Name, err)
		}
		values[ps.Name] = v
	}
}

// substValue substitutes the variables of a param value.
func substValue(v ParamValue, look lookup) (ParamValue, error) {
	switch v.Type {
	case TypeArray:
		items, err := substList(v.ArrayVal, look)
		return Array(items...), err
	case TypeObject:
		out := map[string]string{}
		for _, k := range v.sortedKeys() {
			s, err := substString(v.ObjectVal[k], look)
			if err != nil {
				return v, fmt.Errorf("key %q: %w", k, err)
			}
			out[k] = s
		}
		return Object(out), nil
	}
	if isWholeRef(v.StringVal) {
		r, known, err := parseRef(v.StringVal, v.StringVal[2:len(v.StringVal)-1])
		if known && err == nil && r.star {
			pv, keep, err := look(r)
			if keep || err != nil {
				return v, err
			}
			return pv, nil
		}
	}
	s, err := substString(v.StringVal, look)
	return String(s), err
}

// fitType checks a value against the declared type; a whole array result
// reference ($(tasks.T.results.R[*])), resolved at run time, fits an array.
func fitType(v ParamValue, ps ParamSpec) (ParamValue, error) {
	if v.Type == TypeString && ps.Type == TypeArray && isWholeRef(v.StringVal) && strings.HasSuffix(v.StringVal, "[*])") {
		return Array(v.StringVal), nil
	}
	return v, checkValueType(ps, v)
}

// bindWorkspaces mounts the task's workspaces: bound explicitly, else to
// the pipeline workspace of the same name, else (if optional) not at all.
func (c *compiler) bindWorkspaces(r *resolved) map[string]Mount {
	decls := map[string]WorkspaceDeclaration{}
	for i, w := range r.task.Spec.Workspaces {
		fp := fmt.Sprintf("%s.workspaces[%d]", r.scope(), i)
		if _, dup := decls[w.Name]; dup || w.Name == "" {
			c.fail(fp+".name", "required and unique")
			continue
		}
		if w.MountPath != "" && (!path.IsAbs(w.MountPath) || reservedPath(w.MountPath)) {
			c.fail(fp+".mountPath", "%q: expected an absolute path outside /tekton and /kiln", w.MountPath)
		}
		decls[w.Name] = w
	}
	mounts := map[string]Mount{}
	for i, b := range r.pt.Workspaces {
		c.bindOne(fmt.Sprintf("%s.workspaces[%d]", r.path, i), r, b, decls, mounts)
	}
	for _, w := range r.task.Spec.Workspaces {
		if _, done := mounts[w.Name]; done || decls[w.Name].Name == "" {
			continue
		}
		m := Mount{Name: w.Name, MountPath: mountPath(w), ReadOnly: w.ReadOnly}
		switch {
		case c.pws[w.Name]:
			m.Workspace = w.Name
		case !w.Optional:
			c.fail(r.path+".workspaces", "workspace %q of Task %q is not bound: add {name: %s, workspace: PIPELINE-WORKSPACE}", w.Name, r.task.Name, w.Name)
			continue
		}
		mounts[w.Name] = m
	}
	c.checkNesting(r, mounts)
	return mounts
}

// checkNesting refuses a workspace mounted inside another one: the
// sandbox would create the inner mount point inside the outer workspace,
// following any symbolic link an earlier step left there (onto the host).
func (c *compiler) checkNesting(r *resolved, mounts map[string]Mount) {
	names := sortedNames(mounts)
	for _, outer := range names {
		for _, inner := range names {
			o, i := mounts[outer], mounts[inner]
			if outer != inner && o.Workspace != "" && i.Workspace != "" && (i.MountPath == o.MountPath || strings.HasPrefix(i.MountPath, strings.TrimSuffix(o.MountPath, "/")+"/")) {
				c.fail(r.scope()+".workspaces", "workspace %q is mounted at %s, inside workspace %q at %s: mount workspaces side by side (e.g. /workspace/%s)",
					inner, i.MountPath, outer, o.MountPath, inner)
				return
			}
		}
	}
}

func (c *compiler) bindOne(fp string, r *resolved, b WorkspaceTaskBinding, decls map[string]WorkspaceDeclaration, mounts map[string]Mount) {
	w, ok := decls[b.Name]
	ws := b.Workspace
	if ws == "" {
		ws = b.Name
	}
	sub, err := substString(b.SubPath, c.pipelineLookup(r))
	if err == nil && hasTaskRefs(sub) {
		err = fmt.Errorf("%q: a sub-path cannot use task results", b.SubPath)
	}
	clean := pathClean(sub)
	switch {
	case err != nil:
		c.fail(fp+".subPath", "%v", err)
	case !ok:
		c.fail(fp+".name", "Task %q declares no workspace %q", r.task.Name, b.Name)
	case mounts[b.Name].Name != "":
		c.fail(fp+".name", "workspace %q is bound twice", b.Name)
	case !c.pws[ws]:
		c.fail(fp+".workspace", "the pipeline declares no workspace %q", ws)
	case sub != "" && (path.IsAbs(sub) || clean == ".." || strings.HasPrefix(clean, "../")):
		c.fail(fp+".subPath", "%q: expected a relative path inside the workspace", sub)
	default:
		mounts[b.Name] = Mount{Name: b.Name, Workspace: ws, SubPath: strings.TrimPrefix(clean, "."), MountPath: mountPath(w), ReadOnly: w.ReadOnly}
	}
}

func pathClean(p string) string {
	if p == "" {
		return ""
	}
	return path.Clean(p)
}

func mountPath(w WorkspaceDeclaration) string {
	if w.MountPath != "" {
		return path.Clean(w.MountPath)
	}
	return "/workspace/" + w.Name
}

func reservedPath(p string) bool {
	p = path.Clean(p)
	for _, r := range []string{"/tekton", "/kiln"} {
		if p == r || strings.HasPrefix(p, r+"/") {
			return true
		}
	}
	return p == "/"
}

// compileWhen substitutes the when expressions; those without task
// references are evaluated now: the first false one sets skip.
func (c *compiler) compileWhen(r *resolved) (dynamic []WhenExpression, skip string) {
	look := c.pipelineLookup(r)
	for i, w := range r.pt.When {
		path := fmt.Sprintf("%s.when[%d]", r.path, i)
		in, err1 := substString(w.Input, look)
		values, err2 := substList(w.Values, look)
		switch {
		case w.Operator != "in" && w.Operator != "notin":
			c.fail(path+".operator", "%q: expected in or notin", w.Operator)
		case len(w.Values) == 0:
			c.fail(path+".values", "required: at least one value")
		case err1 != nil:
			c.fail(path+".input", "%v", err1)
		case err2 != nil:
			c.fail(path+".values", "%v", err2)
		case hasTaskRefs(append([]string{in}, values...)...):
			dynamic = append(dynamic, WhenExpression{Input: in, Operator: w.Operator, Values: values})
		case skip == "":
			e := WhenExpression{Input: in, Operator: w.Operator, Values: values}
			if !e.holds() {
				skip = e.describe() + " is false"
			}
		}
	}
	return dynamic, skip
}

func hasTaskRefs(ss ...string) bool {
	for _, s := range ss {
		for _, r := range scanRefs(s) {
			if r.root == "tasks" {
				return true
			}
		}
	}
	return false
}

// holds evaluates a when expression whose variables are substituted.
func (w WhenExpression) holds() bool {
	return slices.Contains(w.Values, w.Input) == (w.Operator == "in")
}

func (w WhenExpression) describe() string {
	return fmt.Sprintf("when %q %s [%s]", w.Input, w.Operator, strings.Join(w.Values, ", "))
}
