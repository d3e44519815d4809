package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/client"
)

// manifest is one object read from a file.
type manifest struct {
	source string // file name, or "stdin"
	index  int    // 1-based index of the document in the file
	item   int    // 1-based index in a List document; 0 otherwise
	obj    client.Object
}

// where locates the manifest for error messages: "app.yaml, document 2".
func (m manifest) where() string {
	s := fmt.Sprintf("%s, document %d", m.source, m.index)
	if m.item > 0 {
		s += fmt.Sprintf(", item %d", m.item)
	}
	return s
}

// describe names the object for error messages: "Component/web".
func (m manifest) describe() string {
	kind, name := m.obj.Kind(), m.obj.Name()
	if kind == "" {
		kind = "<no kind>"
	}
	if name == "" {
		name = "<no name>"
	}
	return kind + "/" + name
}

var manifestExts = []string{".yaml", ".yml", ".json"}

// readManifests reads every object of the -f arguments: files, directories
// (their .yaml, .yml and .json files; subdirectories with recursive) and
// "-" for stdin. Unreadable files and documents are reported in errs and
// skipped.
func readManifests(args []string, recursive bool, stdin io.Reader) (ms []manifest, errs []error) {
	for _, arg := range args {
		files, err := expandPath(arg, recursive)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, f := range files {
			m, e := readFile(f, stdin)
			ms, errs = append(ms, m...), append(errs, e...)
		}
	}
	return ms, errs
}

func expandPath(arg string, recursive bool) ([]string, error) {
	if arg == "-" {
		return []string{"-"}, nil
	}
	fi, err := os.Stat(arg)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", arg, err)
	}
	if !fi.IsDir() {
		return []string{arg}, nil
	}
	var files []string
	err = filepath.WalkDir(arg, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != arg && !recursive {
				return filepath.SkipDir
			}
			return nil
		}
		for _, ext := range manifestExts {
			if strings.EqualFold(filepath.Ext(p), ext) {
				files = append(files, p)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read directory %s: %w", arg, err)
	}
	if len(files) == 0 {
		hint := ""
		if !recursive {
			hint = " (use -R to read its subdirectories)"
		}
		return nil, fmt.Errorf("directory %s has no .yaml, .yml or .json files%s", arg, hint)
	}
	sort.Strings(files)
	return files, nil
}

func readFile(name string, stdin io.Reader) ([]manifest, []error) {
	var data []byte
	var err error
	source := name
	if name == "-" {
		source = "stdin"
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(name)
	}
	if err != nil {
		return nil, []error{fmt.Errorf("cannot read %s: %w", source, err)}
	}
	return parseManifests(source, data)
}

// parseManifests splits YAML (or JSON) documents and expands Lists. Each
// document is parsed as the server parses it (v1alpha1.ParseDocument): a
// key given twice is an error, not silently the last one.
func parseManifests(source string, data []byte) ([]manifest, []error) {
	docs, err := v1alpha1.SplitDocuments(bytes.NewReader(data))
	if err != nil {
		return nil, []error{fmt.Errorf("%s: %w", source, err)}
	}
	var ms []manifest
	var errs []error
	index := 0
	for _, doc := range docs {
		obj, err := parseManifest(doc)
		if err == nil && obj == nil {
			continue // empty document (comments only)
		}
		index++
		if err != nil {
			errs = append(errs, documentError(source, index, err))
			continue
		}
		m, e := expandList(manifest{source: source, index: index, obj: obj})
		ms, errs = append(ms, m...), append(errs, e...)
	}
	return ms, errs
}

// parseManifest parses one document; nil for an empty one.
func parseManifest(doc []byte) (client.Object, error) {
	generic, err := v1alpha1.ParseDocument(doc)
	if err != nil || generic == nil {
		return nil, err
	}
	js, err := json.Marshal(generic)
	if err != nil {
		return nil, err
	}
	return client.DecodeObject(js)
}

// documentError locates a document's parse error: "f.yaml, document 2:
// invalid document: metadata.labels.app: duplicate field ...".
func documentError(source string, index int, err error) error {
	what := "invalid document"
	var de *v1alpha1.DecodeError
	if errors.As(err, &de) && len(de.Errs) > 0 && de.Errs[0].Origin == v1alpha1.OriginSyntax {
		what = "invalid YAML"
	}
	return fmt.Errorf("%s, document %d: %s: %w", source, index, what, err)
}

// expandList returns the items of a List (kind List or FooList with
// items), or the manifest itself; objects without apiVersion or kind are
// errors.
func expandList(m manifest) ([]manifest, []error) {
	items, isList := m.obj["items"].([]any)
	if isList && strings.HasSuffix(m.obj.Kind(), "List") {
		var ms []manifest
		var errs []error
		for i, it := range items {
			o, ok := it.(map[string]any)
			sub := manifest{source: m.source, index: m.index, item: i + 1, obj: o}
			if !ok {
				errs = append(errs, fmt.Errorf("%s: list item is not an object", sub.where()))
				continue
			}
			r, e := expandList(sub)
			ms, errs = append(ms, r...), append(errs, e...)
		}
		return ms, errs
	}
	if m.obj.APIVersion() == "" || m.obj.Kind() == "" {
		return nil, []error{fmt.Errorf("%s: apiVersion and kind are required", m.where())}
	}
	return []manifest{m}, nil
}

// applyRank orders kinds so that what others refer to is created first
// (Namespace, User, ... Release); unknown kinds go last.
func applyRank(kind string) int { return v1alpha1.ApplyOrder(kind) }

// sortForApply orders manifests by applyRank, keeping file order within a
// kind.
func sortForApply(ms []manifest) {
	sort.SliceStable(ms, func(i, j int) bool { return applyRank(ms[i].obj.Kind()) < applyRank(ms[j].obj.Kind()) })
}
