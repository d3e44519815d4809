package pipeline

import (
	"encoding/json"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

// FieldError is one problem at a field path, e.g. `spec.steps[0].sidecars:
// not supported by Kiln: ...`.
type FieldError struct {
	Path string // e.g. spec.tasks[1].taskRef.name; "" for the document
	Msg  string
}

func (e FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// AnyJSON holds a JSON value Kiln accepts but does not interpret (the
// content of emptyDir and volumeClaimTemplate).
type AnyJSON struct{ Raw json.RawMessage }

// UnmarshalJSON keeps the raw value.
func (a *AnyJSON) UnmarshalJSON(b []byte) error {
	a.Raw = append(json.RawMessage{}, b...)
	return nil
}

// MarshalJSON writes the raw value back.
func (a AnyJSON) MarshalJSON() ([]byte, error) {
	if a.Raw == nil {
		return []byte("{}"), nil
	}
	return a.Raw, nil
}

var (
	paramValueType = reflect.TypeFor[ParamValue]()
	durationType   = reflect.TypeFor[metav1.Duration]()
	anyJSONType    = reflect.TypeFor[AnyJSON]()
)

// checkValue checks a generic JSON value (from encoding/json into any)
// against the Go type t: every key must be a field of t, known Tekton
// fields Kiln does not support are named as such, and types must match.
func checkValue(path string, v any, t reflect.Type) []FieldError {
	if t.Kind() == reflect.Pointer {
		if v == nil {
			return nil
		}
		t = t.Elem()
	}
	switch t {
	case paramValueType:
		if _, err := paramValueOf(v); err != nil {
			return []FieldError{{path, err.Error()}}
		}
		return nil
	case durationType:
		return checkDuration(path, v)
	case anyJSONType:
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		return checkStruct(path, v, t)
	case reflect.Slice:
		return checkSlice(path, v, t)
	case reflect.Map:
		return checkMap(path, v, t)
	case reflect.String:
		return expect(path, v, "string", func(x any) bool { _, ok := x.(string); return ok })
	case reflect.Bool:
		return expect(path, v, "boolean", func(x any) bool { _, ok := x.(bool); return ok })
	case reflect.Int, reflect.Int64:
		return expect(path, v, "integer", func(x any) bool { f, ok := x.(float64); return ok && f == math.Trunc(f) })
	}
	return []FieldError{{path, "internal error: unexpected type " + t.String()}}
}

func expect(path string, v any, want string, ok func(any) bool) []FieldError {
	if v == nil || ok(v) {
		return nil
	}
	return []FieldError{{path, "expected " + want + ", got " + describe(v)}}
}

func checkDuration(path string, v any) []FieldError {
	s, ok := v.(string)
	if !ok {
		return expect(path, v, "duration", func(any) bool { return false })
	}
	if _, err := time.ParseDuration(s); err != nil {
		return []FieldError{{path, `expected a duration such as "1h30m", got ` + strconv.Quote(s)}}
	}
	return nil
}

func checkSlice(path string, v any, t reflect.Type) []FieldError {
	items, ok := v.([]any)
	if !ok {
		return expect(path, v, "list", func(any) bool { return false })
	}
	var errs []FieldError
	for i, it := range items {
		errs = append(errs, checkValue(path+"["+strconv.Itoa(i)+"]", it, t.Elem())...)
	}
	return errs
}

func checkMap(path string, v any, t reflect.Type) []FieldError {
	m, ok := v.(map[string]any)
	if !ok {
		return expect(path, v, "object", func(any) bool { return false })
	}
	var errs []FieldError
	for _, k := range slices.Sorted(maps.Keys(m)) {
		errs = append(errs, checkValue(join(path, k), m[k], t.Elem())...)
	}
	return errs
}

func checkStruct(path string, v any, t reflect.Type) []FieldError {
	m, ok := v.(map[string]any)
	if !ok {
		return expect(path, v, "object", func(any) bool { return false })
	}
	fields := jsonFields(t)
	var errs []FieldError
	for _, k := range slices.Sorted(maps.Keys(m)) {
		p := join(path, k)
		f, known := fields[k]
		switch {
		case known:
			errs = append(errs, checkValue(p, m[k], f)...)
		case unsupported[t][k] != "":
			errs = append(errs, FieldError{p, "not supported by Kiln: " + unsupported[t][k]})
		default:
			errs = append(errs, FieldError{p, unknownField(k, fields)})
		}
	}
	return errs
}

func unknownField(k string, fields map[string]reflect.Type) string {
	names := slices.Sorted(maps.Keys(fields))
	if s := v1alpha1.Suggest(k, names); s != "" {
		return "unknown field; did you mean " + strconv.Quote(s) + "?"
	}
	return "unknown field (known fields: " + strings.Join(names, ", ") + ")"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var fieldCache sync.Map // reflect.Type -> map[string]reflect.Type

// jsonFields maps the JSON names of t's fields (embedded structs promoted)
// to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if c, ok := fieldCache.Load(t); ok {
		return c.(map[string]reflect.Type)
	}
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-" || !f.IsExported():
		case f.Anonymous && name == "":
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
		default:
			out[name] = f.Type
		}
	}
	fieldCache.Store(t, out)
	return out
}
