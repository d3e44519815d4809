package v1alpha1

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// DecodeError is what Decode and DecodeAll return for a document they cannot
// decode: every problem found, each with its full field path.
type DecodeError struct {
	// Doc is the 1-based position of the document in a stream (DecodeAll);
	// 0 for Decode.
	Doc int
	// Item is 1 + the index of the object in a List's items; 0 when the
	// document is not a List.
	Item int
	// Kind and Name identify the object, when known.
	Kind, Name string
	// Errs are the problems; Message renders each one.
	Errs field.ErrorList
}

// Error renders the location, then each problem, separated by "; ", e.g.
// `document 2 (Component "cli"): spec.source.git.urll: unknown field — did
// you mean "url"?`.
func (e *DecodeError) Error() string {
	msgs := make([]string, len(e.Errs))
	for i, fe := range e.Errs {
		msgs[i] = Message(fe)
	}
	if h := e.header(); h != "" {
		return h + ": " + strings.Join(msgs, "; ")
	}
	return strings.Join(msgs, "; ")
}

func (e *DecodeError) header() string {
	var where []string
	if e.Doc > 0 {
		where = append(where, "document "+strconv.Itoa(e.Doc))
	}
	if e.Item > 0 {
		where = append(where, "items["+strconv.Itoa(e.Item-1)+"]")
	}
	return DocumentPlace(strings.Join(where, ", "), e.Kind, e.Name)
}

// DocumentPlace says which document an error is about: where it is
// ("document 2"), then the object when known, as `document 2 (Component
// "cli")`; either part alone when the other is empty.
func DocumentPlace(where, kind, name string) string {
	if kind == "" {
		return where
	}
	what := kind
	if name != "" {
		what += " " + strconv.Quote(name)
	}
	if where == "" {
		return what
	}
	return where + " (" + what + ")"
}

// Message renders one field error for people: "path: detail" for decoding
// errors (unknown field, wrong type, syntax), e.Error() otherwise.
func Message(e *field.Error) string {
	switch e.Origin {
	case OriginUnknownField, OriginType, OriginDuplicateField, OriginSyntax:
		if e.Field == "" {
			return e.Detail
		}
		return e.Field + ": " + e.Detail
	}
	return e.Error()
}

// Causes converts field errors into the causes of a Kubernetes Status.
func Causes(errs field.ErrorList) []metav1.StatusCause {
	causes := make([]metav1.StatusCause, 0, len(errs))
	for _, e := range errs {
		msg := e.ErrorBody()
		if m := Message(e); e.Field != "" && strings.HasPrefix(m, e.Field+": ") {
			msg = strings.TrimPrefix(m, e.Field+": ")
		}
		causes = append(causes, metav1.StatusCause{Type: metav1.CauseType(e.Type), Message: msg, Field: e.Field})
	}
	return causes
}

// typeMetaExamples show what a missing apiVersion or kind looks like.
var typeMetaExamples = map[string]string{
	"apiVersion": `every document needs one, e.g. "apiVersion: kiln.dev/v1alpha1" ("v1" for Namespace and Secret)`,
	"kind":       `every document needs one, e.g. "kind: Component"`,
}

// Decode decodes one YAML or JSON document into its kind's Go type. The
// document's apiVersion and kind pick the kind (aliases such as
// appstudio.redhat.com/v1alpha1 are accepted and rewritten to Kiln's);
// unknown fields and values of the wrong type are errors. On failure the
// error is a *DecodeError, and the kind is returned when it was resolved.
func Decode(data []byte) (Object, *Kind, error) {
	doc, errs := parseDocument(data)
	if errs == nil && doc == nil {
		errs = field.ErrorList{decodeError(nil, field.ErrorTypeRequired, OriginSyntax, "empty document: expected an object with apiVersion, kind, metadata and spec")}
	}
	if errs != nil {
		return nil, nil, &DecodeError{Errs: errs}
	}
	if isList(doc) {
		return nil, nil, &DecodeError{Errs: field.ErrorList{field.Invalid(field.NewPath("kind"), doc["kind"], "a List holds several objects: decode it with DecodeAll")}}
	}
	return decodeObject(doc)
}

// DecodeAs decodes one document that must be of kind k, such as a request
// body for a path that names k. As in the Kubernetes API server, a missing
// apiVersion or kind defaults to k's; a present one must resolve to k.
func DecodeAs(k *Kind, data []byte) (Object, error) {
	doc, errs := parseDocument(data)
	if errs == nil && doc == nil {
		doc = map[string]any{}
	}
	if errs != nil {
		return nil, &DecodeError{Kind: k.Kind, Errs: errs}
	}
	for key, def := range map[string]string{"apiVersion": k.APIVersion(), "kind": k.Kind} {
		if v, ok := doc[key]; !ok || v == nil || v == "" {
			doc[key] = def
		}
	}
	obj, dk, err := decodeObject(doc)
	if err == nil && dk != k {
		return nil, &DecodeError{Kind: k.Kind, Name: obj.GetName(), Errs: field.ErrorList{field.Invalid(field.NewPath("kind"), dk.Kind,
			"expected "+k.Kind+": the request is for "+k.Plural)}}
	}
	return obj, err
}

// DecodeAll decodes a stream of YAML documents separated by "---" lines, or
// of JSON objects, expanding List documents (kind: List, items: [...]) and
// skipping empty documents. It returns every object it could decode, in
// order, and an error joining a *DecodeError for each document (or List
// item) it could not.
func DecodeAll(r io.Reader) ([]Object, error) {
	docs, err := SplitDocuments(r)
	if err != nil {
		return nil, err
	}
	var objs []Object
	var errs []error
	for i, d := range docs {
		o, e := decodeDocument(i+1, d)
		objs = append(objs, o...)
		errs = append(errs, e...)
	}
	return objs, errors.Join(errs...)
}

func decodeDocument(n int, data []byte) ([]Object, []error) {
	doc, errs := parseDocument(data)
	switch {
	case errs != nil:
		return nil, []error{&DecodeError{Doc: n, Errs: errs}}
	case doc == nil:
		return nil, nil
	case isList(doc):
		return decodeList(n, doc)
	}
	obj, _, err := decodeObject(doc)
	if err != nil {
		err.(*DecodeError).Doc = n
		return nil, []error{err}
	}
	return []Object{obj}, nil
}

func decodeList(n int, doc map[string]any) ([]Object, []error) {
	items, ok := doc["items"].([]any)
	if !ok && doc["items"] != nil {
		return nil, []error{&DecodeError{Doc: n, Errs: typeError(field.NewPath("items"), "list", doc["items"])}}
	}
	var objs []Object
	var errs []error
	for i, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			errs = append(errs, &DecodeError{Doc: n, Item: i + 1, Errs: typeError(nil, "object", it)})
			continue
		}
		obj, _, err := decodeObject(m)
		if err != nil {
			err.(*DecodeError).Doc, err.(*DecodeError).Item = n, i+1
			errs = append(errs, err)
			continue
		}
		objs = append(objs, obj)
	}
	return objs, errs
}

// isList reports whether a document is a List of objects.
func isList(doc map[string]any) bool {
	kind, _ := doc["kind"].(string)
	if kind == "List" {
		return true
	}
	base, found := strings.CutSuffix(kind, "List")
	_, known := Lookup(base)
	return found && known && doc["items"] != nil
}

// SplitDocuments splits a stream into documents, as DecodeAll does: JSON
// values if it starts with "{", else YAML documents separated by "---"
// lines (which may carry a comment).
func SplitDocuments(r io.Reader) ([][]byte, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading documents: %w", err)
	}
	if isJSON(data) {
		return splitJSON(data)
	}
	var docs [][]byte
	yr := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		d, err := yr.Read()
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading documents: %w", err)
		}
		docs = append(docs, d)
	}
}

func splitJSON(data []byte) ([][]byte, error) {
	var docs [][]byte
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			// Let parseDocument report the syntax error of what remains.
			return append(docs, data[dec.InputOffset():]), nil
		}
		docs = append(docs, raw)
	}
}

func isJSON(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n")
	return len(t) > 0 && t[0] == '{'
}

// ParseDocument parses one YAML or JSON document into a generic object as
// the server does: strictly, so that a key given twice in one mapping, at
// any depth, is an error naming its path (also keys that differ in YAML
// but not in JSON, such as 1 and "1"). An empty document gives nil, nil.
// Errors are *DecodeError.
func ParseDocument(data []byte) (map[string]any, error) {
	doc, errs := parseDocument(data)
	if errs != nil {
		return nil, &DecodeError{Errs: errs}
	}
	return doc, nil
}

// parseDocument parses YAML or JSON into a generic object; a nil object and
// nil errors mean an empty document.
func parseDocument(data []byte) (map[string]any, field.ErrorList) {
	v, errs := strictValue(data)
	if errs != nil || v == nil {
		return nil, errs
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, typeError(nil, "object with apiVersion, kind and metadata", v)
	}
	return m, nil
}

// StrictJSON converts YAML or JSON of any shape (a patch may be a list) to
// JSON, with the same strictness as ParseDocument: a key given twice at any
// depth is a *DecodeError naming its path.
func StrictJSON(data []byte) ([]byte, error) {
	v, errs := strictValue(data)
	if errs != nil {
		return nil, &DecodeError{Errs: errs}
	}
	return json.Marshal(v)
}

// strictValue parses YAML or JSON into a generic value, rejecting keys
// given twice.
func strictValue(data []byte) (any, field.ErrorList) {
	j := data
	if !isJSONValue(data) {
		if errs := duplicateKeys(data); errs != nil {
			return nil, errs
		}
		var err error
		if j, err = yaml.YAMLToJSONStrict(data); err != nil {
			return nil, syntaxError(err)
		}
	}
	var v any
	strictErrs, err := sigsjson.UnmarshalStrict(j, &v)
	if err != nil {
		return nil, syntaxError(err)
	}
	if len(strictErrs) > 0 {
		return nil, strictErrors(strictErrs)
	}
	return v, nil
}

// isJSONValue reports whether data is to be read as JSON: an object, or a
// valid JSON array (a YAML flow sequence is read as YAML).
func isJSONValue(data []byte) bool {
	if isJSON(data) {
		return true
	}
	t := bytes.TrimLeft(data, " \t\r\n")
	return len(t) > 0 && t[0] == '[' && json.Valid(t)
}

func syntaxError(err error) field.ErrorList {
	msg := strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")
	msg = strings.Join(strings.Fields(msg), " ")
	return field.ErrorList{decodeError(nil, field.ErrorTypeInvalid, OriginSyntax, msg)}
}

// strictErrors converts the strict decoder's errors (duplicate or unknown
// fields) into field errors.
func strictErrors(errs []error) field.ErrorList {
	var out field.ErrorList
	for _, err := range errs {
		if strings.HasPrefix(err.Error(), "duplicate field") {
			out = append(out, duplicateField(fieldPath(err)))
			continue
		}
		out = append(out, &field.Error{Type: field.ErrorTypeInvalid, Field: fieldPath(err),
			BadValue: field.OmitValueType{}, Detail: "unknown field", Origin: OriginUnknownField})
	}
	return out
}

func fieldPath(err error) string {
	var fe sigsjson.FieldError
	if errors.As(err, &fe) {
		return fe.FieldPath()
	}
	return ""
}

// decodeObject decodes one generic object into its kind's type.
func decodeObject(doc map[string]any) (Object, *Kind, error) {
	k, errs := resolveKind(doc)
	if errs != nil {
		return nil, nil, &DecodeError{Errs: errs}
	}
	derr := &DecodeError{Kind: k.Kind, Name: objectName(doc)}
	doc["apiVersion"], doc["kind"] = k.APIVersion(), k.Kind
	obj := k.New()
	if derr.Errs = checkValue(nil, doc, reflect.TypeOf(obj).Elem()); derr.Errs != nil {
		return nil, k, derr
	}
	j, err := json.Marshal(doc)
	if err != nil {
		derr.Errs = syntaxError(err)
		return nil, k, derr
	}
	strictErrs, err := sigsjson.UnmarshalStrict(j, obj)
	if derr.Errs = append(strictErrors(strictErrs), unmarshalError(err)...); derr.Errs != nil {
		return nil, k, derr
	}
	return obj, k, nil
}

// unmarshalError converts an error the checks above missed.
func unmarshalError(err error) field.ErrorList {
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return field.ErrorList{decodeError(field.NewPath(te.Field), field.ErrorTypeTypeInvalid, OriginType,
			"expected "+typeName(te.Type)+", got "+te.Value)}
	}
	return syntaxError(err)
}

func objectName(doc map[string]any) string {
	meta, _ := doc["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	return name
}

// resolveKind finds the kind a document's apiVersion and kind name.
func resolveKind(doc map[string]any) (*Kind, field.ErrorList) {
	apiVersion, errs := typeMetaField(doc, "apiVersion")
	kind, kerrs := typeMetaField(doc, "kind")
	if errs = append(errs, kerrs...); errs != nil {
		return nil, errs
	}
	if k, ok := ForAPIVersionKind(apiVersion, kind); ok {
		return k, nil
	}
	return nil, field.ErrorList{unknownKind(apiVersion, kind)}
}

func typeMetaField(doc map[string]any, name string) (string, field.ErrorList) {
	v, ok := doc[name]
	if !ok || v == "" || v == nil {
		return "", field.ErrorList{field.Required(field.NewPath(name), typeMetaExamples[name])}
	}
	s, ok := v.(string)
	if !ok {
		return "", typeError(field.NewPath(name), "string", v)
	}
	return s, nil
}

// unknownKind explains why no kind matches apiVersion and kind.
func unknownKind(apiVersion, kind string) *field.Error {
	if k, ok := Lookup(kind); ok && k.Kind != kind {
		return field.Invalid(field.NewPath("kind"), kind, fmt.Sprintf("did you mean %q?", k.Kind))
	}
	if k, ok := Lookup(kind); ok {
		return field.Invalid(field.NewPath("apiVersion"), apiVersion,
			fmt.Sprintf("%s is served as apiVersion %s", k.Kind, k.APIVersion()))
	}
	var names []string
	for _, k := range Kinds() {
		if !k.Internal {
			names = append(names, k.Kind)
		}
	}
	sort.Strings(names)
	detail := "unknown kind (kinds: " + strings.Join(names, ", ") + ")"
	if s := Suggest(kind, names); s != "" {
		detail = fmt.Sprintf("unknown kind — did you mean %q?", s)
	}
	return field.Invalid(field.NewPath("kind"), kind, detail)
}
