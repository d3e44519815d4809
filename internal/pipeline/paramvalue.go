package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
)

// ParamValue is a parameter or result value: a string, an array of strings
// or an object of strings (Tekton's ParamValue). It marshals to the plain
// JSON value.
type ParamValue struct {
	Type      string // TypeString, TypeArray or TypeObject
	StringVal string
	ArrayVal  []string
	ObjectVal map[string]string
}

// String returns a string ParamValue.
func String(s string) ParamValue { return ParamValue{Type: TypeString, StringVal: s} }

// Array returns an array ParamValue.
func Array(items ...string) ParamValue {
	return ParamValue{Type: TypeArray, ArrayVal: append([]string{}, items...)}
}

// Object returns an object ParamValue.
func Object(m map[string]string) ParamValue {
	return ParamValue{Type: TypeObject, ObjectVal: maps.Clone(m)}
}

// MarshalJSON writes the plain value.
func (v ParamValue) MarshalJSON() ([]byte, error) {
	switch v.Type {
	case TypeArray:
		if v.ArrayVal == nil {
			return []byte("[]"), nil
		}
		return json.Marshal(v.ArrayVal)
	case TypeObject:
		if v.ObjectVal == nil {
			return []byte("{}"), nil
		}
		return json.Marshal(v.ObjectVal)
	}
	return json.Marshal(v.StringVal)
}

// UnmarshalJSON reads a string, an array of strings or an object of
// strings; numbers and booleans are read as their text, as Tekton does.
func (v *ParamValue) UnmarshalJSON(data []byte) error {
	var raw any
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	pv, err := paramValueOf(raw)
	if err != nil {
		return err
	}
	*v = pv
	return nil
}

// paramValueOf converts a decoded JSON (or Go) value into a ParamValue.
func paramValueOf(raw any) (ParamValue, error) {
	switch x := raw.(type) {
	case ParamValue:
		return x, nil
	case []string:
		return Array(x...), nil
	case map[string]string:
		return Object(x), nil
	case []any:
		items := make([]string, len(x))
		for i, it := range x {
			s, ok := scalarString(it)
			if !ok {
				return ParamValue{}, fmt.Errorf("item %d: expected string, got %s", i, describe(it))
			}
			items[i] = s
		}
		return Array(items...), nil
	case map[string]any:
		m := make(map[string]string, len(x))
		for k, it := range x {
			s, ok := scalarString(it)
			if !ok {
				return ParamValue{}, fmt.Errorf("key %q: expected string, got %s", k, describe(it))
			}
			m[k] = s
		}
		return Object(m), nil
	}
	if s, ok := scalarString(raw); ok {
		return String(s), nil
	}
	return ParamValue{}, fmt.Errorf("expected string, array or object, got %s", describe(raw))
}

// scalarString renders strings, numbers and booleans as text.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case json.Number:
		return x.String(), true
	}
	return "", false
}

// describe names the JSON type of v for error messages.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "string " + strconv.Quote(x)
	case bool, float64, int, int64, json.Number:
		return "number or boolean"
	case []any:
		return "list"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// Equal reports whether two values are the same.
func (v ParamValue) Equal(o ParamValue) bool {
	a, _ := v.MarshalJSON()
	b, _ := o.MarshalJSON()
	return v.Type == o.Type && bytes.Equal(a, b)
}

// sortedKeys returns the keys of an object value in order.
func (v ParamValue) sortedKeys() []string {
	return slices.Sorted(maps.Keys(v.ObjectVal))
}
