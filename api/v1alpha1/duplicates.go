package v1alpha1

import (
	"fmt"
	"strconv"

	"go.yaml.in/yaml/v2"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// duplicateKeys finds every key given twice in one mapping of a YAML
// document, at any depth, and reports it with its path (as JSON strict
// decoding reports duplicates in JSON). Keys are compared as they are once
// converted to JSON, so 1 and "1", or true and "true", are the same key:
// the conversion would otherwise keep one of them silently. A document that
// is neither a mapping nor a list of mappings (a JSON patch), or not YAML at
// all, has none; parsing it reports why.
func duplicateKeys(data []byte) field.ErrorList {
	var doc yaml.MapSlice
	if yaml.Unmarshal(data, &doc) == nil {
		return duplicatesIn(nil, doc)
	}
	var list []yaml.MapSlice
	if yaml.Unmarshal(data, &list) != nil {
		return nil
	}
	var errs field.ErrorList
	for i, m := range list {
		errs = append(errs, duplicatesInMap(field.NewPath("").Index(i), m)...)
	}
	return errs
}

func duplicatesIn(path *field.Path, v any) field.ErrorList {
	switch t := v.(type) {
	case yaml.MapSlice:
		return duplicatesInMap(path, t)
	case []any:
		var errs field.ErrorList
		for i, item := range t {
			errs = append(errs, duplicatesIn(path.Index(i), item)...)
		}
		return errs
	}
	return nil
}

func duplicatesInMap(path *field.Path, m yaml.MapSlice) field.ErrorList {
	var errs field.ErrorList
	seen := make(map[string]bool, len(m))
	for _, item := range m {
		key := jsonKey(item.Key)
		if seen[key] {
			errs = append(errs, duplicateField(childPath(path, key).String()))
			continue
		}
		seen[key] = true
		errs = append(errs, duplicatesIn(childPath(path, key), item.Value)...)
	}
	return errs
}

func childPath(path *field.Path, key string) *field.Path {
	if path == nil {
		return field.NewPath(key)
	}
	return path.Child(key)
}

// duplicateField is the error of a key given twice at path.
func duplicateField(path string) *field.Error {
	return &field.Error{Type: field.ErrorTypeDuplicate, Field: path, BadValue: field.OmitValueType{},
		Detail: "duplicate field: a key may appear only once in a mapping, remove one", Origin: OriginDuplicateField}
}

// jsonKey is the JSON object key a YAML mapping key becomes, as
// sigs.k8s.io/yaml converts it.
func jsonKey(k any) string {
	switch t := k.(type) {
	case string:
		return t
	case int:
		return strconv.Itoa(t)
	case int64:
		return strconv.FormatInt(t, 10)
	case float64:
		switch s := strconv.FormatFloat(t, 'g', -1, 32); s {
		case "+Inf":
			return ".inf"
		case "-Inf":
			return "-.inf"
		case "NaN":
			return ".nan"
		default:
			return s
		}
	case bool:
		return strconv.FormatBool(t)
	}
	return fmt.Sprintf("%T:%v", k, k) // not convertible: the conversion reports it
}
