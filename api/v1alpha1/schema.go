package v1alpha1

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agnivade/levenshtein"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Origins of decoding errors (field.Error.Origin). Message prints these as
// "path: detail", without a "Forbidden:"-style prefix.
const (
	OriginUnknownField   = "unknownField"
	OriginType           = "type"
	OriginDuplicateField = "duplicateField"
	OriginSyntax         = "syntax"
)

var (
	timeType      = reflect.TypeOf(metav1.Time{})
	microTimeType = reflect.TypeOf(metav1.MicroTime{})
	durationType  = reflect.TypeOf(metav1.Duration{})
	unmarshaler   = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()
)

// checkValue compares a generic JSON value (as decoded into any) with the Go
// type it will be decoded into, and reports every unknown field and every
// value of the wrong type with its full path.
func checkValue(p *field.Path, v any, t reflect.Type) field.ErrorList {
	if v == nil {
		return nil
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if errs, ok := checkSpecial(p, v, t); ok {
		return errs
	}
	switch t.Kind() {
	case reflect.Struct:
		return checkStruct(p, v, t)
	case reflect.Map:
		return checkMap(p, v, t)
	case reflect.Slice:
		return checkSlice(p, v, t)
	case reflect.Interface:
		return nil
	}
	return checkScalar(p, v, t)
}

// checkSpecial handles types with their own JSON form.
func checkSpecial(p *field.Path, v any, t reflect.Type) (field.ErrorList, bool) {
	s, isString := v.(string)
	switch {
	case t == timeType || t == microTimeType:
		if _, err := time.Parse(time.RFC3339, s); !isString || err != nil {
			return typeError(p, "RFC 3339 timestamp (e.g. 2026-01-02T15:04:05Z)", v), true
		}
		return nil, true
	case t == durationType:
		if _, err := time.ParseDuration(s); !isString || err != nil {
			return typeError(p, `duration (e.g. "1h30m")`, v), true
		}
		return nil, true
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		if _, err := base64.StdEncoding.DecodeString(s); !isString || err != nil {
			return typeError(p, "base64 string", v), true
		}
		return nil, true
	case reflect.PointerTo(t).Implements(unmarshaler):
		return nil, true // checked by the strict decoder
	}
	return nil, false
}

func checkStruct(p *field.Path, v any, t reflect.Type) field.ErrorList {
	m, ok := v.(map[string]any)
	if !ok {
		return typeError(p, "object", v)
	}
	fields := jsonFields(t)
	var errs field.ErrorList
	for _, k := range sortedKeys(m) {
		ft, known := fields.types[k]
		if !known {
			errs = append(errs, unknownField(child(p, k), k, fields.names))
			continue
		}
		errs = append(errs, checkValue(child(p, k), m[k], ft)...)
	}
	return errs
}

func checkMap(p *field.Path, v any, t reflect.Type) field.ErrorList {
	m, ok := v.(map[string]any)
	if !ok {
		return typeError(p, "object", v)
	}
	var errs field.ErrorList
	for _, k := range sortedKeys(m) {
		errs = append(errs, checkValue(p.Key(k), m[k], t.Elem())...)
	}
	return errs
}

func checkSlice(p *field.Path, v any, t reflect.Type) field.ErrorList {
	l, ok := v.([]any)
	if !ok {
		return typeError(p, "list", v)
	}
	var errs field.ErrorList
	for i, e := range l {
		errs = append(errs, checkValue(p.Index(i), e, t.Elem())...)
	}
	return errs
}

func checkScalar(p *field.Path, v any, t reflect.Type) field.ErrorList {
	ok := false
	switch t.Kind() {
	case reflect.String:
		_, ok = v.(string)
	case reflect.Bool:
		_, ok = v.(bool)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, isInt := v.(int64)
		ok = isInt && !reflect.New(t).Elem().OverflowInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, isInt := v.(int64)
		ok = isInt && n >= 0 && !reflect.New(t).Elem().OverflowUint(uint64(n))
	case reflect.Float32, reflect.Float64:
		_, isInt := v.(int64)
		f, isFloat := v.(float64)
		ok = isInt || (isFloat && !math.IsInf(f, 0))
	default:
		return nil // left to the strict decoder
	}
	if ok {
		return nil
	}
	return typeError(p, typeName(t), v)
}

func child(p *field.Path, name string) *field.Path {
	if p == nil {
		return field.NewPath(name)
	}
	return p.Child(name)
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "boolean"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.String:
		return "string"
	}
	if t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64 {
		return "integer"
	}
	return t.Kind().String()
}

// typeError reports a value of the wrong type, e.g.
// `expected integer, got string "x"`.
func typeError(p *field.Path, want string, got any) field.ErrorList {
	detail := "expected " + want + ", got " + describe(got)
	if want == "string" {
		switch got.(type) {
		case bool, int64, float64:
			detail += fmt.Sprintf(` — quote it: "%v"`, got)
		}
	}
	return field.ErrorList{decodeError(p, field.ErrorTypeTypeInvalid, OriginType, detail)}
}

// describe names a generic JSON value's type and, for scalars, its value.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) > 40 {
			x = x[:37] + "..."
		}
		return "string " + strconv.Quote(x)
	case bool:
		return "boolean " + strconv.FormatBool(x)
	case int64:
		return "integer " + strconv.FormatInt(x, 10)
	case float64:
		return "number " + strconv.FormatFloat(x, 'g', -1, 64)
	case map[string]any:
		return "object"
	case []any:
		return "list"
	}
	return fmt.Sprintf("%T", v)
}

// unknownField reports a field the type does not have, suggesting the
// closest known one.
func unknownField(p *field.Path, key string, known []string) *field.Error {
	detail := "unknown field"
	switch s := Suggest(key, known); {
	case s != "" && strings.EqualFold(s, key):
		detail += fmt.Sprintf(" — did you mean %q? (field names are case-sensitive)", s)
	case s != "":
		detail += fmt.Sprintf(" — did you mean %q?", s)
	case len(known) > 0:
		detail += " (known fields: " + strings.Join(known, ", ") + ")"
	}
	return decodeError(p, field.ErrorTypeInvalid, OriginUnknownField, detail)
}

func decodeError(p *field.Path, typ field.ErrorType, origin, detail string) *field.Error {
	path := ""
	if p != nil {
		path = p.String()
	}
	return &field.Error{Type: typ, Field: path, BadValue: field.OmitValueType{}, Detail: detail, Origin: origin}
}

// Suggest returns the candidate closest to key — Levenshtein distance at
// most 2 and at most half of key's length, ignoring case; the first in
// order on a tie — or "" when none is that close: the "did you mean" of
// every message about a misspelt field or kind.
func Suggest(key string, candidates []string) string {
	best, bestDist := "", math.MaxInt
	for _, c := range candidates {
		d := levenshtein.ComputeDistance(strings.ToLower(key), strings.ToLower(c))
		if d < bestDist || (d == bestDist && c < best) {
			best, bestDist = c, d
		}
	}
	if bestDist > 2 || bestDist > len([]rune(key))/2 {
		return ""
	}
	return best
}

// structFields are a struct's JSON field names and their types.
type structFields struct {
	types map[string]reflect.Type
	names []string // sorted
}

var fieldCache sync.Map // reflect.Type -> *structFields

// jsonFields lists the JSON fields of a struct type as encoding/json sees
// them, including those of embedded (inline) structs.
func jsonFields(t reflect.Type) *structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields)
	}
	f := &structFields{types: map[string]reflect.Type{}}
	collectFields(t, f.types)
	for n := range f.types {
		f.names = append(f.names, n)
	}
	sort.Strings(f.names)
	fieldCache.Store(t, f)
	return f
}

func collectFields(t reflect.Type, into map[string]reflect.Type) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			collectFields(ft, into)
			continue
		}
		if name == "" {
			name = f.Name
		}
		into[name] = f.Type
	}
}
