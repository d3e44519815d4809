package policy

import (
	"context"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

func compileErr(t *testing.T, src v1alpha1.PolicySource) string {
	t.Helper()
	_, err := Compile(context.Background(), v1alpha1.PolicySpec{Sources: []v1alpha1.PolicySource{src}}, fixedNow)
	if err == nil {
		t.Fatal("Compile succeeded, want an error")
	}
	return err.Error()
}

func regoSource(name, module string) v1alpha1.PolicySource {
	return v1alpha1.PolicySource{Name: "team", Rego: []v1alpha1.RegoModule{{Name: name, Module: module}}}
}

func wantAll(t *testing.T, got string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(got, p) {
			t.Errorf("error %q does not contain %q", got, p)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	const meta = "# METADATA\n# custom:\n#   short_name: x\n#   failure_msg: x\n"
	for _, tc := range []struct {
		name string
		src  v1alpha1.PolicySource
		want []string
	}{
		{"remote OCI location", v1alpha1.PolicySource{Policy: []string{"oci::quay.io/enterprise-contract/ec-release-policy:latest"}},
			[]string{`"oci::quay.io/enterprise-contract/ec-release-policy:latest" cannot be fetched`, "inline", `"kiln://rules"`}},
		{"remote git location", v1alpha1.PolicySource{Policy: []string{"github.com/org/repo//policy"}},
			[]string{"github.com/org/repo//policy", "offline"}},
		{"data location", v1alpha1.PolicySource{Policy: []string{BuiltinLocation}, Data: []string{"oci::quay.io/x/data"}},
			[]string{`data location "oci::quay.io/x/data"`, "ruleData"}},
		{"no rules", v1alpha1.PolicySource{}, []string{"no rules"}},
		{"syntax error", regoSource("bad.rego", "package policy.release.bad\n\nimport rego.v1\n\ndeny contains x if {\n\tx := \n}\n"),
			[]string{`policy source "team"`, "bad.rego:7", "rego_parse_error"}},
		{"v0 syntax", regoSource("old.rego", "package policy.release.old\n\ndeny[msg] {\n\tmsg := \"x\"\n}\n"),
			[]string{"old.rego:3"}},
		{"undefined reference", regoSource("undef.rego", "package policy.release.undef\nimport rego.v1\n"+meta+"deny contains x if {\n\tx := nope(1)\n}\n"),
			[]string{"undef.rego:8", "undefined function nope"}},
		{"network builtin", regoSource("net.rego", "package policy.release.net\nimport rego.v1\n"+meta+"deny contains x if {\n\tx := http.send({})\n}\n"),
			[]string{"net.rego:8", "http.send"}},
		{"no metadata", regoSource("nometa.rego", "package policy.release.nometa\nimport rego.v1\ndeny contains \"x\" if true\n"),
			[]string{"nometa.rego:3", "no METADATA"}},
		{"no failure_msg", regoSource("nomsg.rego", "package policy.release.nomsg\nimport rego.v1\n# METADATA\n# custom:\n#   short_name: x\ndeny contains \"x\" if true\n"),
			[]string{"nomsg.rego:6", "custom.failure_msg"}},
		{"bad effective_on", regoSource("date.rego", "package policy.release.date\nimport rego.v1\n"+meta+"#   effective_on: next year\ndeny contains \"x\" if true\n"),
			[]string{"date.rego:8", "effective_on", "RFC 3339"}},
		{"complete deny rule", regoSource("complete.rego", "package policy.release.complete\nimport rego.v1\n"+meta+"deny := {\"x\"}\n"),
			[]string{"complete.rego:7", "deny contains result if"}},
		{"package outside policy.release", regoSource("pkg.rego", "package attestation_type\nimport rego.v1\n"+meta+"deny contains \"x\" if true\n"),
			[]string{"pkg.rego:7", "rename it to policy.release.attestation_type"}},
		{"duplicate module name", v1alpha1.PolicySource{Rego: []v1alpha1.RegoModule{
			{Name: "a.rego", Module: "package a"}, {Name: "a.rego", Module: "package b"}}},
			[]string{"a.rego", "used twice"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantAll(t, compileErr(t, tc.src), tc.want...)
		})
	}
}

func TestCompileNoSources(t *testing.T) {
	if _, err := Compile(context.Background(), v1alpha1.PolicySpec{}, nil); err == nil {
		t.Fatal("want an error")
	}
}

func TestCompileIsCached(t *testing.T) {
	spec := loadSpec(t, "policy.yaml")
	a, b := compileT(t, spec), compileT(t, spec)
	if a.prog != b.prog {
		t.Error("the same sources compiled twice")
	}
	if !strings.HasPrefix(a.Digest(), "sha256:") || a.Name() != "team release policy" {
		t.Errorf("digest %q, name %q", a.Digest(), a.Name())
	}
	spec.Sources[0].RuleData = map[string]any{"required_tasks": []any{"clone"}}
	if c := compileT(t, spec); c.Digest() == a.Digest() || c.prog == a.prog {
		t.Error("other rule data, same program")
	}
}

func TestCacheIsBounded(t *testing.T) {
	for i := range maxPrograms + 3 {
		spec := customSpec(t, map[string]any{"team": "greeters", "i": i})
		compileT(t, spec)
	}
	if n := programs.size(); n > maxPrograms {
		t.Errorf("cache holds %d programs, max %d", n, maxPrograms)
	}
}

func TestRulesListsShippedRules(t *testing.T) {
	rules := compileT(t, loadSpec(t, "policy.yaml")).Rules()
	if len(rules) < 20 {
		t.Fatalf("%d rules", len(rules))
	}
	for _, r := range rules {
		if r.Title == "" || r.Description == "" || len(r.Collections) == 0 || r.EffectiveOn.IsZero() ||
			!strings.HasPrefix(r.Location, BuiltinLocation+"/") {
			t.Errorf("incomplete metadata: %+v", r)
		}
	}
}
