package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

// ParseError is a document Kiln cannot read: every problem found, each with
// its field path.
type ParseError struct {
	File string // as given; "" for inline data
	Doc  int    // 1-based position in the file; 0 when the file has one document
	Kind string
	Name string
	Errs []FieldError
}

// Error renders e.g. `.tekton/build.yaml: document 2 (Task "build"):
// spec.sidecars: not supported by Kiln: ...`, problems joined by "; ".
func (e *ParseError) Error() string {
	msgs := make([]string, len(e.Errs))
	for i, fe := range e.Errs {
		msgs[i] = fe.Error()
	}
	if h := e.header(); h != "" {
		return h + ": " + strings.Join(msgs, "; ")
	}
	return strings.Join(msgs, "; ")
}

func (e *ParseError) header() string {
	var where []string
	if e.File != "" {
		where = append(where, e.File)
	}
	if e.Doc > 0 {
		where = append(where, "document "+strconv.Itoa(e.Doc))
	}
	return v1alpha1.DocumentPlace(strings.Join(where, ": "), e.Kind, e.Name)
}

// document is one decoded Tekton object.
type document struct {
	file     string
	kind     string
	name     string
	meta     ObjectMeta
	task     *TaskObject
	pipeline *PipelineObject
	run      *PipelineRunObject
}

// where names the document in messages: `Task "build" (.tekton/t.yaml)`.
func (d *document) where() string {
	s := d.kind + " " + strconv.Quote(d.name)
	if d.file != "" {
		s += " (" + d.file + ")"
	}
	return s
}

// parseDocuments decodes every document of a YAML or JSON stream.
func parseDocuments(file string, data []byte) ([]*document, error) {
	raws, err := v1alpha1.SplitDocuments(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", orInline(file), err)
	}
	var docs []*document
	var errs []error
	for i, raw := range raws {
		n := 0
		if len(raws) > 1 {
			n = i + 1
		}
		d, err := parseDocument(file, n, raw)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if d != nil {
			docs = append(docs, d)
		}
	}
	return docs, errors.Join(errs...)
}

func orInline(file string) string {
	if file == "" {
		return "inline pipeline"
	}
	return file
}

// parseDocument decodes one document; nil for an empty one.
func parseDocument(file string, n int, data []byte) (*document, error) {
	perr := &ParseError{File: file, Doc: n}
	generic, fe := genericObject(data)
	if fe != nil || generic == nil {
		return nil, withErrs(perr, fe)
	}
	perr.Kind, _ = generic["kind"].(string)
	if meta, ok := generic["metadata"].(map[string]any); ok {
		perr.Name, _ = meta["name"].(string)
	}
	target, fe := targetFor(generic)
	if fe != nil {
		return nil, withErrs(perr, fe)
	}
	if fe := checkValue("", generic, reflect.TypeOf(target).Elem()); fe != nil {
		return nil, withErrs(perr, fe)
	}
	j, _ := json.Marshal(generic)
	if err := json.Unmarshal(j, target); err != nil {
		return nil, withErrs(perr, []FieldError{{"", err.Error()}})
	}
	return newDocument(file, target), nil
}

func withErrs(e *ParseError, errs []FieldError) error {
	if errs == nil {
		return nil
	}
	e.Errs = errs
	return e
}

// genericObject parses YAML or JSON into a generic object as the API
// server does (v1alpha1.ParseDocument), so a key given twice at any depth is
// an error naming its path.
func genericObject(data []byte) (map[string]any, []FieldError) {
	m, err := v1alpha1.ParseDocument(data)
	var de *v1alpha1.DecodeError
	if !errors.As(err, &de) {
		return m, nil
	}
	out := make([]FieldError, 0, len(de.Errs))
	for _, fe := range de.Errs {
		msg := strings.TrimPrefix(v1alpha1.Message(fe), fe.Field+": ")
		if fe.Origin == v1alpha1.OriginSyntax {
			msg = "invalid YAML: " + msg
		}
		out = append(out, FieldError{fe.Field, msg})
	}
	return nil, out
}

// targetFor returns a pointer to the Go type of the document's kind.
func targetFor(doc map[string]any) (any, []FieldError) {
	apiVersion, _ := doc["apiVersion"].(string)
	kind, _ := doc["kind"].(string)
	var errs []FieldError
	switch {
	case apiVersion == "":
		errs = append(errs, FieldError{"apiVersion", "required: " + APIVersion})
	case apiVersion != APIVersion:
		errs = append(errs, FieldError{"apiVersion", strconv.Quote(apiVersion) + " is not supported by Kiln: write " + APIVersion + " documents"})
	}
	var target any
	switch kind {
	case KindTask:
		target = &TaskObject{}
	case KindPipeline:
		target = &PipelineObject{}
	case KindPipelineRun:
		target = &PipelineRunObject{}
	case "":
		errs = append(errs, FieldError{"kind", "required: Task, Pipeline or PipelineRun"})
	default:
		errs = append(errs, FieldError{"kind", strconv.Quote(kind) + " is not supported by Kiln: expected Task, Pipeline or PipelineRun"})
	}
	return target, errs
}

func newDocument(file string, target any) *document {
	d := &document{file: file}
	switch o := target.(type) {
	case *TaskObject:
		d.kind, d.meta, d.task = o.Kind, o.Metadata, o
	case *PipelineObject:
		d.kind, d.meta, d.pipeline = o.Kind, o.Metadata, o
	case *PipelineRunObject:
		d.kind, d.meta, d.run = o.Kind, o.Metadata, o
	}
	d.name = d.meta.Name
	if d.name == "" {
		d.name = strings.TrimRight(d.meta.GenerateName, "-")
	}
	return d
}
