package capability

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// detectNPM reads package.json: name provides npm(<name>); dependencies,
// devDependencies and peerDependencies require npm(<dep>);
// optionalDependencies and optional peers are required optionally.
func detectNPM(c *collector) (bool, error) {
	const file = "package.json"
	data, ok, err := c.read(file)
	if !ok {
		return false, err
	}
	m, err := parsePackageJSON(file, data)
	if err != nil {
		return true, err
	}
	if m.name != "" {
		c.provide(npmCap(m.name), at(file, m.nameLine))
	}
	for _, d := range m.deps {
		if target, ok := npmTarget(d.name, d.spec); ok {
			c.buildReq(Requirement{Any: []string{npmCap(target)}, Source: at(file, d.line), Optional: d.optional})
		}
	}
	return true, nil
}

func npmCap(name string) string { return "npm(" + name + ")" }

// npmTarget is the package a dependency names: an alias "npm:real@1" names
// "real"; workspace packages and file:/link: paths inside the tree are
// built with this component, so they are no requirement (ok=false).
func npmTarget(name, spec string) (string, bool) {
	switch {
	case strings.HasPrefix(spec, "npm:"):
		real := spec[len("npm:"):]
		if i := strings.LastIndexByte(real, '@'); i > 0 {
			real = real[:i]
		}
		return real, real != ""
	case strings.HasPrefix(spec, "workspace:"):
		return "", false
	case strings.HasPrefix(spec, "file:"), strings.HasPrefix(spec, "link:"):
		return name, !insideTree(spec[len("file:"):])
	case strings.HasPrefix(spec, "./"), strings.HasPrefix(spec, "../"):
		return name, !insideTree(spec)
	}
	return name, true
}

type npmDep struct {
	name, spec string
	line       int
	optional   bool
	peer       bool
}

type npmManifest struct {
	name          string
	nameLine      int
	deps          []npmDep
	optionalPeers map[string]bool
}

// jsonWalker reads a JSON document token by token so that every key keeps
// its line number.
type jsonWalker struct {
	file string
	data []byte
	dec  *json.Decoder
	nl   []int // offsets of the newlines
}

func newJSONWalker(file string, data []byte) *jsonWalker {
	w := &jsonWalker{file: file, data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	for i, b := range data {
		if b == '\n' {
			w.nl = append(w.nl, i)
		}
	}
	return w
}

func (w *jsonWalker) line(off int64) int { return sort.SearchInts(w.nl, int(off)) + 1 }

func (w *jsonWalker) errorf(line int, format string, args ...any) error {
	return &Error{File: w.file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// wrap turns a decoding error into an *Error with the line it happened at.
func (w *jsonWalker) wrap(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return w.errorf(w.line(syn.Offset), "invalid JSON: %v", err)
	case errors.As(err, &typ):
		return w.errorf(w.line(typ.Offset), "%v", err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return w.errorf(w.line(int64(len(w.data))), "unexpected end of file")
	}
	return &Error{File: w.file, Msg: err.Error()}
}

func parsePackageJSON(file string, data []byte) (*npmManifest, error) {
	w := newJSONWalker(file, data)
	if err := w.open("the top level"); err != nil {
		return nil, err
	}
	m := &npmManifest{}
	for w.dec.More() {
		key, line, err := w.key()
		if err != nil {
			return nil, err
		}
		if err := w.field(m, key, line); err != nil {
			return nil, err
		}
	}
	if err := w.end(); err != nil {
		return nil, err
	}
	for i, d := range m.deps {
		m.deps[i].optional = d.optional || (d.peer && m.optionalPeers[d.name])
	}
	return m, nil
}

// open reads the '{' that starts an object.
func (w *jsonWalker) open(what string) error {
	line := w.line(w.dec.InputOffset())
	tok, err := w.dec.Token()
	if err != nil {
		return w.wrap(err)
	}
	if tok != json.Delim('{') {
		return w.errorf(line, "%s must be a JSON object", what)
	}
	return nil
}

// end reads the '}' of the top-level object and checks nothing follows.
func (w *jsonWalker) end() error {
	if _, err := w.dec.Token(); err != nil {
		return w.wrap(err)
	}
	if _, err := w.dec.Token(); err != io.EOF {
		return w.errorf(w.line(w.dec.InputOffset()), "data after the top-level object")
	}
	return nil
}

func (w *jsonWalker) key() (string, int, error) {
	tok, err := w.dec.Token()
	if err != nil {
		return "", 0, w.wrap(err)
	}
	return tok.(string), w.line(w.dec.InputOffset()), nil // More() was true: a key
}

func (w *jsonWalker) field(m *npmManifest, key string, line int) error {
	var err error
	switch key {
	case "name":
		m.name, err = w.str(line, "name")
		m.nameLine = line
	case "dependencies", "devDependencies", "peerDependencies", "optionalDependencies":
		err = w.depMap(m, key, line)
	case "peerDependenciesMeta":
		err = w.peerMeta(m, line)
	default:
		var skip json.RawMessage
		if err := w.dec.Decode(&skip); err != nil {
			return w.wrap(err)
		}
	}
	return err
}

// str reads a value that must be a string.
func (w *jsonWalker) str(line int, what string) (string, error) {
	var v any
	if err := w.dec.Decode(&v); err != nil {
		return "", w.wrap(err)
	}
	s, ok := v.(string)
	if !ok {
		return "", w.errorf(line, "%s must be a string", what)
	}
	return s, nil
}

func (w *jsonWalker) depMap(m *npmManifest, key string, line int) error {
	if err := w.open(key); err != nil {
		return err
	}
	for w.dec.More() {
		name, l, err := w.key()
		if err != nil {
			return err
		}
		if name == "" {
			return w.errorf(l, "empty package name in %s", key)
		}
		spec, err := w.str(l, fmt.Sprintf("the version of %q in %s", name, key))
		if err != nil {
			return err
		}
		m.deps = append(m.deps, npmDep{name: name, spec: spec, line: l,
			optional: key == "optionalDependencies", peer: key == "peerDependencies"})
	}
	if _, err := w.dec.Token(); err != nil {
		return w.wrap(err)
	}
	return nil
}

func (w *jsonWalker) peerMeta(m *npmManifest, line int) error {
	var meta map[string]struct {
		Optional bool `json:"optional"`
	}
	if err := w.dec.Decode(&meta); err != nil {
		if errors.As(err, new(*json.UnmarshalTypeError)) {
			return w.errorf(line, `peerDependenciesMeta must map package names to {"optional": true}`)
		}
		return w.wrap(err)
	}
	m.optionalPeers = make(map[string]bool, len(meta))
	for name, v := range meta {
		m.optionalPeers[name] = v.Optional
	}
	return nil
}
