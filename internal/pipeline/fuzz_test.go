package pipeline

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: whatever a repository's .kiln/pipeline.yaml or .tekton/ files
// hold, Parse returns a pipeline or an error with a message (a
// *ParseError or several joined), never a panic; a parsed pipeline compiles
// or fails with an error, and compiling is deterministic (the same plan
// digest twice).
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"testdata/parse/*/*.yaml", "testdata/compile/*/*.yaml", "catalog/*.yaml"} {
		files, _ := filepath.Glob(pattern)
		for _, name := range files {
			data, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			checkParseError(t, err)
			return
		}
		plan, err := Compile(p, nil, Context{PipelineRunName: "r"})
		if err != nil {
			if err.Error() == "" {
				t.Fatal("compile error without a message")
			}
			return
		}
		again, err := Compile(p, nil, Context{PipelineRunName: "r"})
		if err != nil || again.Digest() != plan.Digest() {
			t.Fatalf("compiling twice: %v, digests %s and %s", err, plan.Digest(), again.Digest())
		}
		if _, err := json.Marshal(plan); err != nil {
			t.Fatalf("plan does not encode: %v", err)
		}
	})
}

func checkParseError(t *testing.T, err error) {
	t.Helper()
	var pe *ParseError
	if err.Error() == "" {
		t.Fatalf("parse error %T without a message", err)
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			if !errors.As(e, &pe) && e.Error() == "" {
				t.Fatalf("error %T without a message", e)
			}
		}
	}
}
