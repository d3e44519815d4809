package capability

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// pyproject is the part of pyproject.toml that is read (PEP 518, PEP 621).
type pyproject struct {
	BuildSystem *struct {
		Requires []string `toml:"requires"`
	} `toml:"build-system"`
	Project *struct {
		Name         string   `toml:"name"`
		Dependencies []string `toml:"dependencies"`
	} `toml:"project"`
}

// detectPython reads pyproject.toml: [project] name provides
// python3dist(<name>); [build-system] requires and [project] dependencies
// require python3dist(<dep>). A file with neither table (only tool
// settings) is not a detection.
func detectPython(c *collector) (bool, error) {
	const file = "pyproject.toml"
	data, ok, err := c.read(file)
	if !ok {
		return false, err
	}
	var py pyproject
	if err := toml.Unmarshal(data, &py); err != nil {
		return true, tomlError(file, err)
	}
	if py.BuildSystem == nil && py.Project == nil {
		return false, nil
	}
	var reqs []string
	if py.BuildSystem != nil {
		reqs = py.BuildSystem.Requires
	}
	if py.Project != nil {
		if py.Project.Name == "" {
			return true, &Error{File: file, Msg: "[project] has no name"}
		}
		c.provide(pyCap(py.Project.Name), at(file, lineOf(data, py.Project.Name)))
		reqs = append(reqs, py.Project.Dependencies...)
	}
	return true, addPythonReqs(c, file, data, reqs)
}

func addPythonReqs(c *collector, file string, data []byte, reqs []string) error {
	var errs []error
	for _, r := range reqs {
		line := lineOf(data, r)
		name, ok := pep508Name(r)
		if !ok {
			msg := fmt.Sprintf("invalid requirement %q (it must start with a PEP 508 name)", r)
			errs = append(errs, &Error{File: file, Line: line, Msg: msg})
			continue
		}
		c.buildReq(Requirement{Any: []string{pyCap(name)}, Source: at(file, line)})
	}
	return errors.Join(errs...)
}

func pyCap(name string) string { return "python3dist(" + normalizePythonName(name) + ")" }

var pythonSeparators = regexp.MustCompile(`[-_.]+`)

// normalizePythonName is PEP 503 normalization, as Fedora's python3dist()
// names use it.
func normalizePythonName(name string) string {
	return strings.ToLower(pythonSeparators.ReplaceAllString(name, "-"))
}

// pep508Head is a PEP 508 name, optional extras, then what may follow them.
var pep508Head = regexp.MustCompile(`^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\])?\s*(?:[<>=!~;@(]|$)`)

// pep508Name is the distribution name of a requirement such as
// "requests[socks] >= 2.8; python_version >= '3.8'"; markers are not
// evaluated (the requirement is kept, as %if branches are).
func pep508Name(req string) (string, bool) {
	m := pep508Head.FindStringSubmatch(req)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// lineOf is the line of the first string literal holding exactly s, or 0.
// TOML decoding keeps no positions, so a string that appears twice points
// at its first place.
func lineOf(data []byte, s string) int {
	for _, q := range []string{`"` + s + `"`, `'` + s + `'`} {
		if i := bytes.Index(data, []byte(q)); i >= 0 {
			return bytes.Count(data[:i], []byte("\n")) + 1
		}
	}
	return 0
}

func tomlError(file string, err error) error {
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, _ := de.Position()
		return &Error{File: file, Line: row, Msg: tomlMessage(de.Error())}
	}
	return &Error{File: file, Msg: tomlMessage(err.Error())}
}

var tomlTypeError = regexp.MustCompile(`cannot decode TOML (\w+) into .*\.(\w+) of type (\S+)`)

// tomlMessage rewrites go-toml's type errors, which name Go types, in
// terms of pyproject.toml.
func tomlMessage(msg string) string {
	m := tomlTypeError.FindStringSubmatch(msg)
	if m == nil {
		return "invalid TOML: " + strings.TrimPrefix(msg, "toml: ")
	}
	keys := map[string]string{"Project": "[project]", "BuildSystem": "[build-system]"}
	key, ok := keys[m[2]]
	if !ok {
		key = strings.ToLower(m[2])
	}
	want := map[string]string{"[]string": "an array of strings", "string": "a string"}[m[3]]
	if want == "" {
		want = "a table"
	}
	return fmt.Sprintf("%s must be %s, not a %s", key, want, m[1])
}
