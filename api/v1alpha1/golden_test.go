package v1alpha1

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/kilnbuild/kiln/internal/golden"
)

// TestValidGolden decodes and admits every testdata/valid/*.yaml and compares
// the admitted objects (defaults applied) with the sibling .golden file.
func TestValidGolden(t *testing.T) {
	t.Parallel()
	for _, in := range append(glob(t, "testdata/valid/*.yaml"), glob(t, "testdata/valid/*.json")...) {
		t.Run(filepath.Base(in), func(t *testing.T) {
			t.Parallel()
			var out []string
			for _, obj := range admitFile(t, in) {
				b, err := yaml.Marshal(obj)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, string(b))
			}
			golden.CheckString(t, strings.TrimSuffix(in, filepath.Ext(in))+".golden", strings.TrimSpace(strings.Join(out, "---\n"))+"\n")
		})
	}
}

// TestInvalidGolden decodes and admits every testdata/invalid/*.yaml and
// compares the error messages, one a line, with the sibling .err file. Files
// named update-*.yaml hold two documents: the stored object and its
// replacement, checked with AdmitUpdate.
func TestInvalidGolden(t *testing.T) {
	t.Parallel()
	for _, in := range glob(t, "testdata/invalid/*.yaml") {
		t.Run(filepath.Base(in), func(t *testing.T) {
			t.Parallel()
			got := invalidMessages(t, in)
			if got == "" {
				t.Fatalf("%s: no error", in)
			}
			golden.CheckString(t, strings.TrimSuffix(in, ".yaml")+".err", strings.TrimSpace(got)+"\n")
		})
	}
}

func glob(t *testing.T, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no files match %s: %v", pattern, err)
	}
	return files
}

func decodeFile(t *testing.T, path string) ([]Object, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return DecodeAll(f)
}

// admitFile decodes and admits every object of a file, failing on any error.
func admitFile(t *testing.T, path string) []Object {
	t.Helper()
	objs, err := decodeFile(t, path)
	if err != nil {
		t.Fatalf("decoding %s: %v", path, err)
	}
	if len(objs) == 0 {
		t.Fatalf("%s: no objects", path)
	}
	for _, obj := range objs {
		k, _ := KindOf(obj)
		if errs := Admit(k, obj); len(errs) > 0 {
			t.Fatalf("%s: %s %q: %v", path, k.Kind, obj.GetName(), errs.ToAggregate())
		}
	}
	return objs
}

// invalidMessages returns the decoding or admission errors of a file, one a
// line.
func invalidMessages(t *testing.T, path string) string {
	t.Helper()
	objs, err := decodeFile(t, path)
	if err != nil {
		var lines []string
		for _, e := range unwrapAll(err) {
			lines = append(lines, e.Error())
		}
		return strings.Join(lines, "\n")
	}
	if isUpdate(path) {
		return strings.Join(updateMessages(t, path, objs), "\n")
	}
	var lines []string
	for _, obj := range objs {
		lines = append(lines, admitMessages(obj, Admit)...)
	}
	return strings.Join(lines, "\n")
}

// updateMessages admits objs[0] as the stored object (it must be valid) and
// objs[1] as its replacement.
func updateMessages(t *testing.T, path string, objs []Object) []string {
	t.Helper()
	if len(objs) != 2 {
		t.Fatalf("%s: want 2 documents (stored, replacement), got %d", path, len(objs))
	}
	k, _ := KindOf(objs[0])
	if errs := Admit(k, objs[0]); len(errs) > 0 {
		t.Fatalf("%s: the stored object must be valid: %v", path, errs.ToAggregate())
	}
	return admitMessages(objs[1], func(k *Kind, o Object) field.ErrorList { return AdmitUpdate(k, objs[0], o) })
}

func isUpdate(path string) bool { return strings.HasPrefix(filepath.Base(path), "update-") }

// admitMessages admits obj and renders each error as "Kind name: message".
func admitMessages(obj Object, admit func(*Kind, Object) field.ErrorList) []string {
	k, _ := KindOf(obj)
	var lines []string
	for _, e := range admit(k, obj) {
		lines = append(lines, k.Kind+" "+obj.GetName()+": "+Message(e))
	}
	return lines
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	var de *DecodeError
	if errors.As(err, &de) {
		return []error{de}
	}
	return []error{err}
}
