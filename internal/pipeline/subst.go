package pipeline

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Variables are written $(root.path...). Roots Kiln knows: params, tasks,
// workspaces, results, context (and steps/step, which it rejects). Any
// other $(...) — such as a shell command substitution $(date) — is left as
// it is.
var varPattern = regexp.MustCompile(`\$\(([^()]*)\)`)

// knownRoots are the first segments of Tekton variables.
var knownRoots = map[string]bool{"params": true, "tasks": true, "workspaces": true, "results": true, "context": true, "steps": true, "step": true}

// varRef is a parsed variable reference.
type varRef struct {
	text  string   // the whole "$(...)"
	root  string   // params, tasks, ...
	parts []string // the names after root, e.g. [build results digest]
	star  bool     // ends with [*]
	index int      // [N] at the end; -1 when absent
}

// parseRef parses the inside of $(...); ok is false when the root is not a
// Tekton one.
func parseRef(text, inner string) (varRef, bool, error) {
	r := varRef{text: text, index: -1}
	root, _, _ := strings.Cut(inner, ".")
	root, _, _ = strings.Cut(root, "[")
	if !knownRoots[root] {
		return r, false, nil
	}
	toks, err := tokens(inner)
	if err != nil {
		return r, true, fmt.Errorf("%s: %w", text, err)
	}
	r.root, toks = toks[0], toks[1:]
	if n := len(toks); n > 0 && toks[n-1] == "[*]" {
		r.star, toks = true, toks[:n-1]
	} else if n > 0 && strings.HasPrefix(toks[n-1], "[") {
		r.index, _ = strconv.Atoi(strings.Trim(toks[n-1], "[]"))
		toks = toks[:n-1]
	}
	for _, t := range toks {
		if strings.HasPrefix(t, "[") {
			return r, true, fmt.Errorf("%s: an index is allowed only at the end", text)
		}
	}
	r.parts = toks
	return r, true, nil
}

// tokens splits `params["a.b"].c[*]` into params, a.b, c, [*].
func tokens(s string) ([]string, error) {
	var out []string
	for s != "" {
		switch {
		case s[0] == '.':
			s = s[1:]
		case strings.HasPrefix(s, `["`) || strings.HasPrefix(s, `['`):
			end := strings.Index(s[2:], string(s[1])+"]")
			if end < 0 {
				return nil, errors.New("unterminated [\"...\"]")
			}
			out, s = append(out, s[2:2+end]), s[2+end+2:]
		case s[0] == '[':
			end := strings.IndexByte(s, ']')
			inner := s[1:max(end, 1)]
			if _, err := strconv.Atoi(inner); end < 0 || (inner != "*" && err != nil) {
				return nil, errors.New("expected [*], [N] or [\"name\"]")
			}
			out, s = append(out, s[:end+1]), s[end+1:]
		default:
			end := strings.IndexAny(s, ".[")
			if end < 0 {
				end = len(s)
			}
			out, s = append(out, s[:end]), s[end:]
		}
	}
	return out, nil
}

// lookup resolves a reference. keep means "leave the text as it is" (a
// reference resolved later, at run time).
type lookup func(r varRef) (v ParamValue, keep bool, err error)

// substString replaces the variables of s. Every variable must resolve to
// a string: arrays and objects are allowed only as whole command or args
// items (see substList).
func substString(s string, look lookup) (string, error) {
	var errs []error
	out := varPattern.ReplaceAllStringFunc(s, func(m string) string {
		v, keep, err := resolveOne(m, look)
		switch {
		case err != nil:
			errs = append(errs, err)
		case keep:
			return m
		case v.Type != TypeString:
			errs = append(errs, fmt.Errorf("%s is an %s: use it as a whole command or args item, as $(...[*])", m, v.Type))
		default:
			return v.StringVal
		}
		return m
	})
	return out, errors.Join(errs...)
}

func resolveOne(m string, look lookup) (ParamValue, bool, error) {
	r, ok, err := parseRef(m, m[2:len(m)-1])
	if !ok || err != nil {
		return ParamValue{}, true, err
	}
	return look(r)
}

// substList replaces the variables of a command or args list; an item that
// is exactly an array reference ($(params.a[*])) becomes the array's items.
func substList(items []string, look lookup) ([]string, error) {
	var out []string
	var errs []error
	for i, it := range items {
		if v, ok, err := wholeArray(it, look); ok || err != nil {
			out = append(out, v...)
			errs = append(errs, indexErr(i, err))
			continue
		}
		s, err := substString(it, look)
		out = append(out, s)
		errs = append(errs, indexErr(i, err))
	}
	return out, errors.Join(errs...)
}

// wholeArray expands an item that is exactly an array or object reference
// with [*]; ok is false for any other item.
func wholeArray(item string, look lookup) ([]string, bool, error) {
	if !isWholeRef(item) {
		return nil, false, nil
	}
	r, known, err := parseRef(item, item[2:len(item)-1])
	if !known || err != nil || !r.star {
		return nil, false, err
	}
	v, keep, err := look(r)
	switch {
	case err != nil:
		return nil, true, err
	case keep:
		return []string{item}, true, nil
	case v.Type == TypeArray:
		return v.ArrayVal, true, nil
	case v.Type == TypeObject:
		return nil, true, fmt.Errorf("%s: an object cannot be expanded into a list", item)
	}
	return []string{v.StringVal}, true, nil
}

// isWholeRef reports whether s is one variable and nothing else.
func isWholeRef(s string) bool {
	loc := varPattern.FindStringIndex(s)
	return loc != nil && loc[0] == 0 && loc[1] == len(s)
}

func indexErr(i int, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("[%d]: %w", i, err)
}

// selectValue applies a reference's trailing key, index or [*] to v.
func selectValue(r varRef, v ParamValue, key string) (ParamValue, error) {
	switch {
	case key != "":
		if v.Type != TypeObject {
			return ParamValue{}, fmt.Errorf("%s: .%s needs an object, the value is a %s", r.text, key, orString(v.Type))
		}
		s, ok := v.ObjectVal[key]
		if !ok {
			return ParamValue{}, fmt.Errorf("%s: the object has no key %q", r.text, key)
		}
		return String(s), nil
	case r.index >= 0:
		if v.Type != TypeArray {
			return ParamValue{}, fmt.Errorf("%s: [%d] needs an array, the value is a %s", r.text, r.index, orString(v.Type))
		}
		if r.index >= len(v.ArrayVal) {
			return ParamValue{}, fmt.Errorf("%s: index %d out of range (%d items)", r.text, r.index, len(v.ArrayVal))
		}
		return String(v.ArrayVal[r.index]), nil
	case r.star && v.Type == TypeString:
		return ParamValue{}, fmt.Errorf("%s: [*] needs an array or object, the value is a string", r.text)
	}
	return v, nil
}

func orString(t string) string {
	if t == "" {
		return TypeString
	}
	return t
}

// scanRefs returns the Tekton references in s (ignoring unknown roots).
func scanRefs(s string) []varRef {
	var out []varRef
	for _, m := range varPattern.FindAllString(s, -1) {
		if r, ok, err := parseRef(m, m[2:len(m)-1]); ok && err == nil {
			out = append(out, r)
		}
	}
	return out
}
