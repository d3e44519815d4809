package server

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/internal/cli"
)

// kilnCLI runs the real CLI in-process against f with its client config.
func kilnCLI(t *testing.T, f *Factory) func(args ...string) (string, error) {
	cfg := filepath.Join(f.cfg.DataDir, ClientConfigName)
	return func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		root := cli.NewRootCommand()
		root.SetArgs(append([]string{"--config", cfg}, args...))
		root.SetOut(&out)
		root.SetErr(&errOut)
		err := root.Execute()
		return out.String() + errOut.String(), err
	}
}

func TestCLIAppliesTheExamplesEndToEnd(t *testing.T) {
	t.Parallel()
	f := testFactory(t, "")
	kiln := kilnCLI(t, f)
	examples := filepath.Join("..", "..", "examples")
	out, err := kiln("apply", "-R", "-f", examples)
	if err != nil {
		t.Fatalf("apply examples: %v\n%s", err, out)
	}
	created := strings.Count(out, " created")
	if created < 12 {
		t.Fatalf("expected every example object created, got %d:\n%s", created, out)
	}
	out, err = kiln("apply", "-R", "-f", examples)
	if err != nil || strings.Count(out, " unchanged") != created {
		t.Fatalf("re-apply should leave all %d objects unchanged: %v\n%s", created, err, out)
	}
	out, _ = kiln("get", "components", "-n", "team-greet", "-o", "json")
	var list struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Items) != 4 {
		t.Fatalf("get -o json: %v, %d items\n%s", err, len(list.Items), out)
	}
	out, err = kiln("get", "comp", "-n", "team-greet")
	if err != nil || !strings.Contains(out, "libgreet") || !strings.Contains(out, "APPLICATION") {
		t.Fatalf("get table: %v\n%s", err, out)
	}
	out, err = kiln("describe", "component", "libgreet", "-n", "team-greet")
	if err != nil || !strings.Contains(out, "Application") || !strings.Contains(out, "libgreet.git") {
		t.Fatalf("describe: %v\n%s", err, out)
	}
	out, err = kiln("get", "rpa", "-n", "rh-prod")
	if err != nil || !strings.Contains(out, "team-greet") {
		t.Fatalf("managed namespace admission: %v\n%s", err, out)
	}
	if _, err := kiln("delete", "application", "greet", "-n", "team-greet"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "components deleted with their application", func() bool {
		out, _ := kiln("get", "components", "-n", "team-greet", "-o", "name")
		return strings.TrimSpace(out) == "" || strings.Contains(out, "No resources")
	})
}

func TestCLIReportsBadInputWithFieldPath(t *testing.T) {
	t.Parallel()
	f := testFactory(t, "")
	kiln := kilnCLI(t, f)
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	writeFile(t, bad, "apiVersion: kiln.dev/v1alpha1\nkind: Application\nmetadata: {name: ok}\n---\n"+
		"apiVersion: kiln.dev/v1alpha1\nkind: Component\nmetadata: {name: c}\nspec:\n  application: ok\n  source: {git: {url: \"htp://x\"}}\n")
	out, err := kiln("apply", "-f", bad)
	if err == nil {
		t.Fatalf("bad component accepted:\n%s", out)
	}
	if !strings.Contains(out, "spec.source.git.url") || !strings.Contains(out, "application.kiln.dev/ok created") {
		t.Fatalf("apply should create the good object and name the bad field:\n%s", out)
	}
}

// TestCLIApplyRejectsDuplicateKeys: kiln apply refuses a document with a
// key given twice at any depth, as the server does, naming the file, the
// document and the key's path; it does not apply the last value silently.
func TestCLIApplyRejectsDuplicateKeys(t *testing.T) {
	t.Parallel()
	f := testFactory(t, "")
	kiln := kilnCLI(t, f)
	dup := filepath.Join(t.TempDir(), "dup.yaml")
	writeFile(t, dup, "apiVersion: kiln.dev/v1alpha1\nkind: Application\nmetadata: {name: fine}\n---\n"+
		"apiVersion: kiln.dev/v1alpha1\nkind: Application\nmetadata:\n  name: twice\n  labels:\n    tier: web\n    tier: db\n")
	out, err := kiln("apply", "-f", dup)
	if err == nil || !strings.Contains(out, dup+", document 2: invalid document: metadata.labels.tier: duplicate field") {
		t.Fatalf("apply of a duplicate key: %v\n%s", err, out)
	}
	if !strings.Contains(out, "application.kiln.dev/fine created") {
		t.Fatalf("the valid document was not applied:\n%s", out)
	}
	if out, err := kiln("get", "application", "twice"); err == nil {
		t.Fatalf("the document with a duplicate key was applied:\n%s", out)
	}
}

func TestCLITokensAndWhoami(t *testing.T) {
	t.Parallel()
	f := testFactory(t, "")
	kiln := kilnCLI(t, f)
	out, err := kiln("whoami")
	if err != nil || !strings.Contains(out, "admin") {
		t.Fatalf("whoami: %v\n%s", err, out)
	}
	out, err = kiln("token", "create", "--description", "ci", "--expires", "1h")
	if err != nil || !strings.Contains(out, "kiln_") {
		t.Fatalf("token create: %v\n%s", err, out)
	}
	out, err = kiln("token", "list")
	if err != nil || !strings.Contains(out, "ci") {
		t.Fatalf("token list: %v\n%s", err, out)
	}
}
