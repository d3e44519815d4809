package v1alpha1

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// addFiles seeds f with every file matching the patterns.
func addFiles(f *testing.F, patterns ...string) {
	f.Helper()
	for _, p := range patterns {
		files, err := filepath.Glob(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, name := range files {
			data, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
}

var fuzzSeeds = []string{"testdata/valid/*", "testdata/invalid/*.yaml", "../../examples/*/*.yaml"}

// FuzzDecode: whatever a client sends, Decode returns an object or a
// *DecodeError, never panics; a decoded object encodes to JSON that
// decodes to the same object; and admission (defaults, then validation)
// is idempotent: an admitted object admits again unchanged.
func FuzzDecode(f *testing.F) {
	addFiles(f, fuzzSeeds...)
	f.Add([]byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a","labels":{"x":"1","x":"2"}}}`))
	f.Add([]byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  labels:\n    1: a\n    \"1\": b\n"))
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		obj, k, err := Decode(data)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || err.Error() == "" {
				t.Fatalf("error %v (%T) is not a *DecodeError with a message", err, err)
			}
			return
		}
		first := encodeJSON(t, obj)
		again, k2, err := Decode(first)
		if err != nil || k2 != k {
			t.Fatalf("re-decoding %s: %v (kind %v, want %v)", first, err, k2, k)
		}
		if second := encodeJSON(t, again); !bytes.Equal(first, second) {
			t.Fatalf("round trip changed the object:\n%s\n%s", first, second)
		}
		checkAdmitIdempotent(t, k, again)
	})
}

func checkAdmitIdempotent(t *testing.T, k *Kind, obj Object) {
	t.Helper()
	if errs := Admit(k, obj); len(errs) > 0 {
		return
	}
	admitted := encodeJSON(t, obj)
	if errs := Admit(k, obj); len(errs) > 0 {
		t.Fatalf("an admitted object fails a second admission: %v\n%s", errs.ToAggregate(), admitted)
	}
	if again := encodeJSON(t, obj); !bytes.Equal(admitted, again) {
		t.Fatalf("admitting twice changed the object:\n%s\n%s", admitted, again)
	}
}

func encodeJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encoding %T: %v", v, err)
	}
	return b
}

// FuzzDecodeAll: a stream of documents decodes into objects and a joined
// error of *DecodeErrors, never a panic; each object decoded from the
// stream decodes alone to the same JSON.
func FuzzDecodeAll(f *testing.F) {
	addFiles(f, fuzzSeeds...)
	f.Add([]byte("{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"a\"}}\n{\"kind\":"))
	f.Add([]byte("apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Namespace, metadata: {name: a}}\n- 7\n---\n--- # c\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := DecodeAll(bytes.NewReader(data))
		if err != nil {
			checkJoinedDecodeErrors(t, err)
		}
		for _, obj := range objs {
			first := encodeJSON(t, obj)
			again, _, err := Decode(first)
			if err != nil {
				t.Fatalf("object %s from the stream does not decode alone: %v", first, err)
			}
			if second := encodeJSON(t, again); !bytes.Equal(first, second) {
				t.Fatalf("decoding alone changed the object:\n%s\n%s", first, second)
			}
		}
	})
}

func checkJoinedDecodeErrors(t *testing.T, err error) {
	t.Helper()
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		if err.Error() == "" {
			t.Fatalf("error %T has no message", err)
		}
		return // splitting the stream failed: one plain error
	}
	for _, e := range joined.Unwrap() {
		var de *DecodeError
		if !errors.As(e, &de) {
			t.Fatalf("error %v (%T) is not a *DecodeError", e, e)
		}
	}
}
