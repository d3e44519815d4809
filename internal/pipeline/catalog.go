package pipeline

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
)

//go:embed catalog/*.yaml
var catalogFS embed.FS

// Catalog is a set of Tasks a pipeline can name in taskRef without
// defining them: Kiln's built-in catalog (Builtin), or one read from files.
type Catalog struct {
	tasks map[string]*Task
}

// Builtin returns the catalog embedded in the binary: script, go, rpm and
// oci-image (see docs/pipelines.md).
func Builtin() *Catalog { return builtin() }

var builtin = sync.OnceValue(func() *Catalog {
	sub, _ := fs.Sub(catalogFS, "catalog")
	c, err := NewCatalog(sub)
	if err != nil {
		panic("built-in pipeline catalog: " + err.Error()) // caught by TestCatalog
	}
	return c
})

// NewCatalog reads every *.yaml file of fsys: each holds one Task whose
// name is the file's base name.
func NewCatalog(fsys fs.FS) (*Catalog, error) {
	files, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, err
	}
	c := &Catalog{tasks: map[string]*Task{}}
	var errs []error
	for _, f := range files {
		t, err := readCatalogTask(fsys, f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.tasks[t.Name] = t
	}
	return c, errors.Join(errs...)
}

func readCatalogTask(fsys fs.FS, file string) (*Task, error) {
	data, err := fs.ReadFile(fsys, file)
	if err != nil {
		return nil, err
	}
	docs, err := parseDocuments(file, data)
	if err != nil {
		return nil, err
	}
	want := strings.TrimSuffix(path.Base(file), ".yaml")
	if len(docs) != 1 || docs[0].task == nil || docs[0].name != want {
		return nil, fmt.Errorf("%s: expected one Task named %q", file, want)
	}
	d := docs[0]
	return &Task{Name: d.name, Annotations: d.meta.Annotations, Spec: d.task.Spec, Origin: "catalog"}, nil
}

// Task returns the catalog task named name.
func (c *Catalog) Task(name string) (*Task, bool) {
	t, ok := c.tasks[name]
	return t, ok
}

// Names returns the names of the catalog's tasks, sorted.
func (c *Catalog) Names() []string {
	names := make([]string, 0, len(c.tasks))
	for n := range c.tasks {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Pipeline returns a one-task pipeline running the catalog task name, with
// the task's params, workspaces and results passed through.
func (c *Catalog) Pipeline(name string) (*Pipeline, bool) {
	t, ok := c.Task(name)
	if !ok {
		return nil, false
	}
	p := wrapTask(t)
	p.Catalog = c
	return p, true
}
