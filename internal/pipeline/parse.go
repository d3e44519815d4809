package pipeline

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
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
	h := strings.Join(where, ": ")
	if e.Kind == "" {
		return h
	}
	what := e.Kind
	if e.Name != "" {
		what += " " + strconv.Quote(e.Name)
	}
	if h == "" {
		return what
	}
	return h + " (" + what + ")"
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
	raws, err := splitYAML(data)
	if err != nil {
		return nil, fmt.Errorf("%s: reading YAML: %w", orInline(file), err)
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

// splitYAML splits a stream on "---" lines.
func splitYAML(data []byte) ([][]byte, error) {
	var docs [][]byte
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		d, err := r.Read()
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, d)
	}
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

// genericObject parses YAML or JSON into a generic object, rejecting
// duplicate keys.
func genericObject(data []byte) (map[string]any, []FieldError) {
	j, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, []FieldError{{"", syntaxMessage(err)}}
	}
	var v any
	strictErrs, err := sigsjson.UnmarshalStrict(j, &v)
	if err != nil {
		return nil, []FieldError{{"", syntaxMessage(err)}}
	}
	for _, e := range strictErrs {
		return nil, []FieldError{{"", e.Error()}}
	}
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, []FieldError{{"", "expected an object with apiVersion, kind, metadata and spec, got " + describe(v)}}
	}
	return m, nil
}

func syntaxMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")
	return "invalid YAML: " + strings.Join(strings.Fields(msg), " ")
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
