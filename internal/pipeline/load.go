package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/kilnbuild/kiln/internal/tenantfs"
)

// Pipeline is a loaded pipeline definition: the Pipeline's spec, the Tasks
// defined beside it, and what a PipelineRun added. Compile turns it into a
// Plan.
type Pipeline struct {
	Name        string
	Annotations map[string]string
	Spec        PipelineSpec
	// Tasks are the Tasks defined in the same files, by name. A taskRef
	// names one of them, else a catalog task.
	Tasks map[string]*Task
	// Run is what the PipelineRun the pipeline came from sets; nil when
	// there was none.
	Run *RunSpec
	// Catalog resolves taskRefs not found in Tasks; nil means Builtin().
	Catalog *Catalog
}

// Task is a Task definition.
type Task struct {
	Name        string
	Annotations map[string]string
	Spec        TaskSpec
	// Origin says where the task was defined: a file, "catalog" or "inline".
	Origin string
}

// RunSpec is what a PipelineRun adds to its pipeline.
type RunSpec struct {
	Name       string
	Params     []Param
	Workspaces []WorkspaceBinding
	Timeouts   *Timeouts
}

// Source says where a pipeline was loaded from.
type Source struct {
	// Kind is "kiln" (.kiln/pipeline.yaml), "tekton" (.tekton/*.yaml),
	// "files" (ParseFiles) or "inline" (Parse).
	Kind string `json:"kind"`
	// Files are the files read, relative to the repository for LoadFromRepo.
	Files []string `json:"files,omitempty"`
	// PipelineRun is the name of the PipelineRun chosen, if any.
	PipelineRun string `json:"pipelineRun,omitempty"`
}

// Where a repository defines its pipeline.
const (
	KilnPipelineFile = ".kiln/pipeline.yaml"
	TektonDir        = ".tekton"
)

// ErrNoPipeline is returned by LoadFromRepo when the repository defines no
// pipeline; the caller may fall back to a catalog pipeline.
var ErrNoPipeline = errors.New("no pipeline found")

// MaxPipelineFile bounds each pipeline file read from a repository.
const MaxPipelineFile = 4 << 20

// repository is how errors name the tree pipelines are read from.
const repository = "the repository"

// LoadFromRepo reads the pipeline of the repository checked out at dir:
// .kiln/pipeline.yaml if it exists, else every .tekton/*.yaml (and *.yml)
// file. The files together may hold Tasks and one Pipeline, Tasks and
// PipelineRuns (the push one is chosen, see Parse), or a single Task.
// Files are read inside dir only: a symbolic link leaving the repository
// (or a FIFO, or a file over MaxPipelineFile) is an error naming it.
func LoadFromRepo(dir string) (*Pipeline, Source, error) {
	repo, err := tenantfs.Open(dir, repository)
	if err != nil {
		return nil, Source{}, err
	}
	defer repo.Close()
	if _, err := repo.Lstat(KilnPipelineFile); !errors.Is(err, fs.ErrNotExist) {
		p, src, err := loadFiles(repo, []string{KilnPipelineFile})
		src.Kind = "kiln"
		return p, src, err
	}
	files, err := tektonFiles(repo)
	if err != nil {
		return nil, Source{}, err
	}
	if len(files) == 0 {
		return nil, Source{}, fmt.Errorf("%w in %s: add %s or %s/*.yaml", ErrNoPipeline, dir, KilnPipelineFile, TektonDir)
	}
	p, src, err := loadFiles(repo, files)
	src.Kind = "tekton"
	return p, src, err
}

// LoadRepoFile reads the pipeline in the file name (slash-separated,
// relative) of the repository checked out at dir, as LoadFromRepo does:
// never outside dir.
func LoadRepoFile(dir, name string) (*Pipeline, error) {
	repo, err := tenantfs.Open(dir, repository)
	if err != nil {
		return nil, err
	}
	defer repo.Close()
	p, _, err := loadFiles(repo, []string{name})
	return p, err
}

func tektonFiles(repo *tenantfs.Tree) ([]string, error) {
	entries, err := repo.ReadDir(TektonDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", TektonDir, err)
	}
	var files []string
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
			files = append(files, TektonDir+"/"+e.Name())
		}
	}
	return files, nil
}

// ParseFiles reads a pipeline from files of the local machine (kiln run
// -f), as LoadFromRepo does from a repository's files.
func ParseFiles(paths ...string) (*Pipeline, Source, error) {
	src := Source{Kind: "files", Files: paths}
	var docs []*document
	var errs []error
	for _, f := range paths {
		data, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("reading pipeline: %w", err))
			continue
		}
		d, err := parseDocuments(f, data)
		docs = append(docs, d...)
		errs = append(errs, err)
	}
	return assembleFiles(src, docs, errs)
}

// loadFiles reads and assembles files of a repository.
func loadFiles(repo *tenantfs.Tree, files []string) (*Pipeline, Source, error) {
	src := Source{Files: files}
	var docs []*document
	var errs []error
	for _, f := range files {
		data, err := repo.ReadFile(f, MaxPipelineFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("reading the pipeline: %w", err))
			continue
		}
		d, err := parseDocuments(f, data)
		docs = append(docs, d...)
		errs = append(errs, err)
	}
	return assembleFiles(src, docs, errs)
}

func assembleFiles(src Source, docs []*document, errs []error) (*Pipeline, Source, error) {
	if err := errors.Join(errs...); err != nil {
		return nil, src, err
	}
	p, run, err := assemble(docs)
	src.PipelineRun = run
	return p, src, err
}

// Parse reads an inline pipeline: YAML or JSON documents holding Tasks and
// a Pipeline, a PipelineRun (with pipelineSpec, or a pipelineRef naming a
// Pipeline among the documents), or a single Task (run as a one-task
// pipeline). When there are several PipelineRuns, the one triggered on push
// (Pipelines-as-Code annotation on-event containing "push", or an
// on-cel-expression with event == "push") is chosen.
func Parse(data []byte) (*Pipeline, error) {
	docs, err := parseDocuments("", data)
	if err != nil {
		return nil, err
	}
	p, _, err := assemble(docs)
	return p, err
}

// defs are the documents of a pipeline, by kind.
type defs struct {
	tasks     map[string]*Task
	pipelines map[string]*document
	runs      []*document
}

// assemble builds the Pipeline from the documents; it returns the chosen
// PipelineRun's name.
func assemble(docs []*document) (*Pipeline, string, error) {
	d, err := collect(docs)
	if err != nil {
		return nil, "", err
	}
	switch {
	case len(d.runs) > 0:
		run, err := pickRun(d.runs)
		if err != nil {
			return nil, "", err
		}
		p, err := fromRun(run, d)
		return p, run.name, err
	case len(d.pipelines) == 1:
		for _, pd := range d.pipelines {
			return fromPipeline(pd, d.tasks), "", nil
		}
	case len(d.pipelines) > 1:
		return nil, "", fmt.Errorf("several Pipelines (%s): keep one, or add a PipelineRun naming one", strings.Join(sortedNames(d.pipelines), ", "))
	case len(d.tasks) == 1:
		for _, t := range d.tasks {
			return wrapTask(t), "", nil
		}
	}
	return nil, "", fmt.Errorf("%w: expected a Pipeline, a PipelineRun or a single Task, found %d Tasks", ErrNoPipeline, len(d.tasks))
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// collect indexes the documents by kind, checking names.
func collect(docs []*document) (*defs, error) {
	d := &defs{tasks: map[string]*Task{}, pipelines: map[string]*document{}}
	seen := map[string]*document{}
	var errs []error
	for _, doc := range docs {
		key := doc.kind + "/" + doc.name
		switch {
		case doc.name == "":
			errs = append(errs, fmt.Errorf("%s: metadata.name: required", doc.where()))
			continue
		case seen[key] != nil:
			errs = append(errs, fmt.Errorf("%s: defined twice (also in %s)", doc.where(), orInline(seen[key].file)))
			continue
		}
		seen[key] = doc
		switch {
		case doc.task != nil:
			d.tasks[doc.name] = &Task{Name: doc.name, Annotations: doc.meta.Annotations, Spec: doc.task.Spec, Origin: orInline(doc.file)}
		case doc.pipeline != nil:
			d.pipelines[doc.name] = doc
		default:
			d.runs = append(d.runs, doc)
		}
	}
	return d, errors.Join(errs...)
}

// pickRun chooses the PipelineRun to run: the only one, else the only one
// triggered on push.
func pickRun(runs []*document) (*document, error) {
	if len(runs) == 1 {
		return runs[0], nil
	}
	var push []*document
	var names []string
	for _, r := range runs {
		names = append(names, r.where())
		if onPush(r.meta.Annotations) {
			push = append(push, r)
		}
	}
	switch len(push) {
	case 1:
		return push[0], nil
	case 0:
		return nil, fmt.Errorf("%d PipelineRuns and none runs on push (annotation %s: \"[push]\"): %s; choose one with -f",
			len(runs), AnnotationOnEvent, strings.Join(names, ", "))
	}
	var pushNames []string
	for _, r := range push {
		pushNames = append(pushNames, r.where())
	}
	return nil, fmt.Errorf("several PipelineRuns run on push: %s; choose one with -f", strings.Join(pushNames, ", "))
}

var celPush = regexp.MustCompile(`event\s*==\s*["']push["']`)

// onPush reports whether Pipelines-as-Code annotations trigger the run on
// push: on-event "[push]" or "[pull_request, push]", or a CEL expression
// containing event == "push".
func onPush(ann map[string]string) bool {
	if ev, ok := ann[AnnotationOnEvent]; ok {
		for e := range strings.SplitSeq(strings.Trim(strings.TrimSpace(ev), "[]"), ",") {
			if strings.Trim(strings.TrimSpace(e), `"'`) == "push" {
				return true
			}
		}
	}
	return celPush.MatchString(ann[AnnotationOnCEL])
}

func fromRun(run *document, d *defs) (*Pipeline, error) {
	spec := run.run.Spec
	var p *Pipeline
	switch {
	case spec.PipelineSpec != nil && spec.PipelineRef != nil:
		return nil, fmt.Errorf("%s: spec: set pipelineRef or pipelineSpec, not both", run.where())
	case spec.PipelineSpec != nil:
		p = &Pipeline{Name: run.name, Annotations: run.meta.Annotations, Spec: *spec.PipelineSpec, Tasks: d.tasks}
	case spec.PipelineRef != nil:
		pd, ok := d.pipelines[spec.PipelineRef.Name]
		if !ok {
			return nil, fmt.Errorf("%s: spec.pipelineRef.name: no Pipeline %q in the files (have: %s)",
				run.where(), spec.PipelineRef.Name, strings.Join(sortedNames(d.pipelines), ", "))
		}
		p = fromPipeline(pd, d.tasks)
	default:
		return nil, fmt.Errorf("%s: spec: pipelineSpec or pipelineRef is required", run.where())
	}
	p.Run = &RunSpec{Name: run.name, Params: spec.Params, Workspaces: spec.Workspaces, Timeouts: spec.Timeouts}
	return p, nil
}

func fromPipeline(pd *document, tasks map[string]*Task) *Pipeline {
	return &Pipeline{Name: pd.name, Annotations: pd.meta.Annotations, Spec: pd.pipeline.Spec, Tasks: tasks}
}

// wrapTask makes a one-task pipeline of a lone Task: the task's params and
// workspaces become the pipeline's, its results the pipeline's results.
func wrapTask(t *Task) *Pipeline {
	pt := PipelineTask{Name: t.Name, TaskRef: &TaskRef{Name: t.Name}}
	spec := PipelineSpec{Params: slices.Clone(t.Spec.Params)}
	for _, ps := range t.Spec.Params {
		pt.Params = append(pt.Params, Param{Name: ps.Name, Value: passThrough(ps)})
	}
	for _, w := range t.Spec.Workspaces {
		spec.Workspaces = append(spec.Workspaces, PipelineWorkspaceDeclaration{Name: w.Name, Optional: w.Optional})
		pt.Workspaces = append(pt.Workspaces, WorkspaceTaskBinding{Name: w.Name, Workspace: w.Name})
	}
	for _, r := range t.Spec.Results {
		ref := "$(tasks." + t.Name + ".results." + r.Name + ")"
		if r.Type == TypeArray || r.Type == TypeObject {
			ref = "$(tasks." + t.Name + ".results." + r.Name + "[*])"
		}
		spec.Results = append(spec.Results, PipelineResult{Name: r.Name, Type: r.Type, Value: String(ref)})
	}
	spec.Tasks = []PipelineTask{pt}
	return &Pipeline{Name: t.Name, Spec: spec, Tasks: map[string]*Task{t.Name: t}}
}

// passThrough is the value passing pipeline param ps on to a task param of
// the same name.
func passThrough(ps ParamSpec) ParamValue {
	if ps.Type == TypeArray || ps.Type == TypeObject {
		return String("$(params." + ps.Name + "[*])")
	}
	return String("$(params." + ps.Name + ")")
}
