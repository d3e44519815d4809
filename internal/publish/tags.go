package publish

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The variables tag templates commonly use; TagVars.Map fills them in.
const (
	VarGitSHA       = "git_sha"
	VarGitShortSHA  = "git_short_sha"
	VarBuildCounter = "build_counter"
	VarComponent    = "component"
	VarDigestSHA    = "digest_sha"
	VarVersion      = "version"
)

// TagVars are the values of the standard template variables.
type TagVars struct {
	GitSHA       string // full commit hash
	BuildCounter int64
	Component    string
	Digest       string // sha256:<hex>; digest_sha is the hex part
	Version      string
}

// Map returns the variables ExpandTags substitutes; empty values are left
// out, so a template that uses them fails instead of producing "v-7".
func (v TagVars) Map() map[string]string {
	out := map[string]string{
		VarGitSHA: v.GitSHA, VarComponent: v.Component, VarVersion: v.Version,
		VarGitShortSHA: v.GitSHA[:min(7, len(v.GitSHA))],
		VarDigestSHA:   v.Digest[strings.IndexByte(v.Digest, ':')+1:],
	}
	if v.BuildCounter > 0 {
		out[VarBuildCounter] = strconv.FormatInt(v.BuildCounter, 10)
	}
	maps.DeleteFunc(out, func(_, val string) bool { return val == "" })
	return out
}

var (
	// placeholder is {{ name }}, spaces optional.
	placeholder = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)
	// validTag is the OCI distribution spec's tag grammar.
	validTag = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)
)

// ExpandTags substitutes vars into each template ("latest",
// "{{ git_sha }}", "v{{ version }}-{{ build_counter }}", …) and returns
// the tags in order without duplicates. An unknown or empty variable, a
// malformed placeholder or a result that is not a valid OCI tag is an error.
func ExpandTags(templates []string, vars map[string]string) ([]string, error) {
	out := make([]string, 0, len(templates))
	for _, tmpl := range templates {
		tag, err := expandTag(tmpl, vars)
		if err != nil {
			return nil, fmt.Errorf("expanding tag template %q: %w", tmpl, err)
		}
		if !slices.Contains(out, tag) {
			out = append(out, tag)
		}
	}
	return out, nil
}

func expandTag(tmpl string, vars map[string]string) (string, error) {
	var err error
	tag := placeholder.ReplaceAllStringFunc(tmpl, func(m string) string {
		key := placeholder.FindStringSubmatch(m)[1]
		val, ok := vars[key]
		switch {
		case err != nil:
		case !ok:
			err = fmt.Errorf("unknown variable %q; known variables: %s", key, knownVars(vars))
		case val == "":
			err = fmt.Errorf("variable %q is empty", key)
		}
		return val
	})
	switch {
	case err != nil:
		return "", err
	case strings.Contains(tag, "{{") || strings.Contains(tag, "}}"):
		return "", fmt.Errorf("malformed placeholder: write {{ name }}")
	case !validTag.MatchString(tag):
		return "", fmt.Errorf("%q is not a valid OCI tag: 1 to 128 characters from [A-Za-z0-9_.-], not starting with '.' or '-'", tag)
	}
	return tag, nil
}

func knownVars(vars map[string]string) string {
	if len(vars) == 0 {
		return "(none)"
	}
	return strings.Join(slices.Sorted(maps.Keys(vars)), ", ")
}
