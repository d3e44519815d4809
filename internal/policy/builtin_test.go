package policy

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/format"

	"github.com/kilnbuild/kiln/internal/golden"
)

// TestShippedRulesAreFormatted keeps rules/*.rego as `opa fmt` writes them.
func TestShippedRulesAreFormatted(t *testing.T) {
	files, err := filepath.Glob("rules/*.rego")
	if err != nil || len(files) == 0 {
		t.Fatal(files, err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := format.Source(f, src)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, src) {
			if golden.Updating() {
				if err := os.WriteFile(f, got, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			t.Errorf("%s is not formatted (run the tests with -update to format it)", f)
		}
	}
}

// TestREADMEListsEveryRule keeps the README's rule table complete.
func TestREADMEListsEveryRule(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range compileT(t, loadSpec(t, "policy.yaml")).Rules() {
		if !strings.Contains(string(readme), "`"+r.Code+"`") {
			t.Errorf("README.md does not list %s", r.Code)
		}
	}
}

func TestBuiltinLocations(t *testing.T) {
	for _, loc := range []string{"kiln://rules", "builtin:kiln", " kiln://rules "} {
		if !isBuiltinLocation(loc) {
			t.Errorf("%q not builtin", loc)
		}
	}
	b, err := builtin()
	if err != nil {
		t.Fatal(err)
	}
	if b.lib.text == "" || len(b.rules) < 8 || b.ruleData["allowed_build_types"] == nil || len(b.digest) != 64 {
		t.Errorf("shipped rules: %d modules, rule data %v", len(b.rules), b.ruleData)
	}
}
