package v1alpha1

import (
	"errors"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	const head = "apiVersion: kiln.dev/v1alpha1\nkind: ReleasePlan\nmetadata: {name: rp, namespace: t}\n"
	tests := []struct {
		name, doc, want string
	}{
		{"typo", head + "spec: {targett: x}", `ReleasePlan "rp": spec.targett: unknown field — did you mean "target"?`},
		{"case", head + "spec: {Target: x}", `ReleasePlan "rp": spec.Target: unknown field — did you mean "target"? (field names are case-sensitive)`},
		{"no suggestion", head + "spec: {zzz: x}", `ReleasePlan "rp": spec.zzz: unknown field (known fields: application, data, finalPipeline, releaseGracePeriodDays, target, tenantPipeline)`},
		{"int", head + "spec: {releaseGracePeriodDays: x}", `ReleasePlan "rp": spec.releaseGracePeriodDays: expected integer, got string "x"`},
		{"float", head + "spec: {releaseGracePeriodDays: 1.5}", `ReleasePlan "rp": spec.releaseGracePeriodDays: expected integer, got number 1.5`},
		{"string", head + "spec: {target: 7}", `ReleasePlan "rp": spec.target: expected string, got integer 7 — quote it: "7"`},
		{"object", head + "spec: [1]", `ReleasePlan "rp": spec: expected object, got list`},
		{"list index", head + "spec: {tenantPipeline: {pipelineRef: {params: [{name: a}, {nam: b}]}}}",
			`ReleasePlan "rp": spec.tenantPipeline.pipelineRef.params[1].nam: unknown field — did you mean "name"?`},
		{"two errors", head + "spec: {target: [], application: {}}",
			`ReleasePlan "rp": spec.application: expected string, got object; spec.target: expected string, got list`},
		{"no apiVersion", "kind: Component", `apiVersion: Required value: every document needs one, e.g. "apiVersion: kiln.dev/v1alpha1" ("v1" for Namespace and Secret)`},
		{"no kind", "apiVersion: v1", `kind: Required value: every document needs one, e.g. "kind: Component"`},
		{"kind not string", "apiVersion: v1\nkind: 3", `kind: expected string, got integer 3 — quote it: "3"`},
		{"empty", "# nothing\n", "empty document: expected an object with apiVersion, kind, metadata and spec"},
		{"not object", "- a", "expected object with apiVersion, kind and metadata, got list"},
		{"list", "apiVersion: v1\nkind: List\nitems: []", `kind: Invalid value: "List": a List holds several objects: decode it with DecodeAll`},
		{"json duplicate", `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a","name":"b"}}`, "metadata.name: duplicate field: a key may appear only once in a mapping, remove one"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := Decode([]byte(tc.doc))
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("got %v (%T), want a *DecodeError", err, err)
			}
			if err.Error() != tc.want {
				t.Errorf("got  %s\nwant %s", err, tc.want)
			}
		})
	}
}

func TestDecodeReturnsKindOnSchemaError(t *testing.T) {
	t.Parallel()
	obj, k, err := Decode([]byte("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nbogus: 1\n"))
	if err == nil || obj != nil || k == nil || k.Kind != "Secret" {
		t.Fatalf("got %v, %v, %v; want nil object, kind Secret and an error", obj, k, err)
	}
	var de *DecodeError
	if !errors.As(err, &de) || de.Kind != "Secret" || de.Name != "s" || de.Errs[0].Field != "bogus" {
		t.Fatalf("got %#v", err)
	}
}

func TestDecodeAliases(t *testing.T) {
	t.Parallel()
	obj, k, err := Decode([]byte(`apiVersion: appstudio.redhat.com/v1alpha1
kind: EnterpriseContractPolicy
metadata: {name: ecp, namespace: rh-prod}
spec: {sources: [{policy: [x]}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	p, ok := obj.(*Policy)
	if !ok || k.Kind != "Policy" {
		t.Fatalf("got %T, kind %s; want *Policy", obj, k.Kind)
	}
	if p.APIVersion != APIVersion || p.Kind != "Policy" {
		t.Errorf("TypeMeta = %s %s, want rewritten to %s Policy", p.APIVersion, p.Kind, APIVersion)
	}
}

func TestDecodeJSONAndFreeForm(t *testing.T) {
	t.Parallel()
	obj, _, err := Decode([]byte(`{"apiVersion":"kiln.dev/v1alpha1","kind":"ReleasePlan",
	"metadata":{"name":"rp","namespace":"t"},
	"spec":{"application":"a","target":"b","data":{"n":1,"f":1.5,"deep":{"list":[true,null,"x"]}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	d := obj.(*ReleasePlan).Spec.Data
	if d["n"] != int64(1) || d["f"] != 1.5 {
		t.Errorf("data = %#v, want n=int64(1), f=1.5", d)
	}
	deep := d["deep"].(map[string]any)["list"].([]any)
	if len(deep) != 3 || deep[0] != true || deep[1] != nil || deep[2] != "x" {
		t.Errorf("data.deep.list = %#v", deep)
	}
}

func TestDecodeAll(t *testing.T) {
	t.Parallel()
	stream := `---
# leading separator and comment-only documents are skipped
---
apiVersion: v1
kind: Namespace
metadata: {name: a}
---
apiVersion: v1
kind: NamespaceList
items:
  - {apiVersion: v1, kind: Namespace, metadata: {name: b}}
  - {apiVersion: v1, kind: Namespace, metadata: {name: c}, spec: {tpye: managed}}
---
apiVersion: v1
kind: Namespace
metadata: {name: d}
spec: {type: 1}
---
apiVersion: v1
kind: Namespace
metadata: {name: e}
`
	objs, err := DecodeAll(strings.NewReader(stream))
	var names []string
	for _, o := range objs {
		names = append(names, o.GetName())
	}
	if strings.Join(names, ",") != "a,b,e" {
		t.Errorf("decoded %v, want a,b,e", names)
	}
	want := `document 3, items[1] (Namespace "c"): spec.tpye: unknown field — did you mean "type"?` + "\n" +
		`document 4 (Namespace "d"): spec.type: expected string, got integer 1 — quote it: "1"`
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
}

func TestDecodeAllJSONStream(t *testing.T) {
	t.Parallel()
	objs, err := DecodeAll(strings.NewReader(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}}
{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"b"}}`))
	if err != nil || len(objs) != 2 || objs[1].GetName() != "b" {
		t.Fatalf("got %d objects, %v; want a and b", len(objs), err)
	}
	_, err = DecodeAll(strings.NewReader(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}} {"kind":`))
	if err == nil || !strings.HasPrefix(err.Error(), "document 2: ") {
		t.Errorf("truncated JSON: got %v, want an error naming document 2", err)
	}
}

func TestCauses(t *testing.T) {
	t.Parallel()
	errs := field.ErrorList{
		unknownField(field.NewPath("spec", "urll"), "urll", []string{"url"}),
		field.Invalid(field.NewPath("spec", "url"), "htp://x", "not a git URL"),
	}
	got := Causes(errs)
	want := []metav1.StatusCause{
		{Type: metav1.CauseTypeFieldValueInvalid, Field: "spec.urll", Message: `unknown field — did you mean "url"?`},
		{Type: metav1.CauseTypeFieldValueInvalid, Field: "spec.url", Message: `Invalid value: "htp://x": not a git URL`},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d causes, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("cause %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestSuggest(t *testing.T) {
	t.Parallel()
	known := []string{"url", "revision", "context", "dockerfileUrl"}
	for key, want := range map[string]string{
		"urll": "url", "URL": "url", "revison": "revision", "contxt": "context",
		"dockerfileURL": "dockerfileUrl", "x": "", "branch": "", "ur": "url",
	} {
		if got := Suggest(key, known); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestDecodeAs(t *testing.T) {
	t.Parallel()
	k := Lookup1(t, "Namespace")
	obj, err := DecodeAs(k, []byte(`{"metadata":{"name":"team-a"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if ns := obj.(*Namespace); ns.Name != "team-a" || ns.APIVersion != "v1" || ns.Kind != "Namespace" {
		t.Errorf("got %+v", ns.TypeMeta)
	}
	if _, err := DecodeAs(Lookup1(t, "ecp"), []byte("apiVersion: appstudio.redhat.com/v1alpha1\nkind: EnterpriseContractPolicy\nmetadata: {name: p}")); err != nil {
		t.Errorf("alias of the requested kind: %v", err)
	}
	_, err = DecodeAs(k, []byte("apiVersion: kiln.dev/v1alpha1\nkind: Application\nmetadata: {name: a}"))
	if want := `Namespace "a": kind: Invalid value: "Application": expected Namespace: the request is for namespaces`; err == nil || err.Error() != want {
		t.Errorf("wrong kind: got %v\nwant %s", err, want)
	}
	_, err = DecodeAs(k, []byte(`{"metadata":{"name":"a"},"spec":{"typ":"tenant"}}`))
	if want := `Namespace "a": spec.typ: unknown field — did you mean "type"?`; err == nil || err.Error() != want {
		t.Errorf("unknown field: got %v\nwant %s", err, want)
	}
}

// TestDuplicateKeysAnyDepth: a key given twice is an error naming its path,
// in YAML and JSON, at any depth, also when the two keys differ in YAML but
// not once converted to JSON; YAML merge keys are not duplicates.
func TestDuplicateKeysAnyDepth(t *testing.T) {
	t.Parallel()
	const head = "apiVersion: v1\nkind: Namespace\n"
	for _, tc := range []struct{ name, doc, want string }{
		{"top level", "apiVersion: v1\nkind: Namespace\nkind: Secret\n", "kind"},
		{"nested", head + "metadata:\n  name: a\n  labels:\n    x: a\n    y: b\n    x: c\n", "metadata.labels.x"},
		{"flow style", head + "metadata: {name: a, annotations: {k: 1, k: 2}}\n", "metadata.annotations.k"},
		{"inside a list", head + "spec:\n  finalizers: [{a: 1}, {b: 1, b: 2}]\n", "spec.finalizers[1].b"},
		{"number and string", head + "metadata:\n  labels:\n    1: a\n    \"1\": b\n", "metadata.labels.1"},
		{"bool and string", head + "metadata:\n  labels:\n    true: a\n    \"true\": b\n", "metadata.labels.true"},
		{"floats equal in JSON", head + "metadata:\n  labels:\n    0.123456789: a\n    0.1234567891: b\n", "metadata.labels.0.12345679"},
		{"json nested", `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a","labels":{"x":"1","x":"2"}}}`, "metadata.labels.x"},
		{"json escaped key", `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a","n\u0061me":"b"}}`, "metadata.name"},
	} {
		_, err := ParseDocument([]byte(tc.doc))
		want := tc.want + ": duplicate field"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, want)
		}
	}
	merged := "base: &b {x: 1, y: 2}\nderived:\n  <<: *b\n  z: 3\n"
	if _, err := ParseDocument([]byte(merged)); err != nil {
		t.Errorf("a merge key is not a duplicate: %v", err)
	}
}
