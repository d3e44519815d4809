package v1alpha1

import (
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// wantKinds is the registry as documented in docs/resources.md.
var wantKinds = []struct {
	kind, apiVersion, plural, short string
	namespaced, status, immutable   bool
	fields                          string
}{
	{"Application", APIVersion, "applications", "app,apps", true, true, false, ""},
	{"Build", APIVersion, "builds", "b", true, true, false, "spec.component,spec.group,spec.reason.build,spec.reason.component,spec.reason.type,status.phase"},
	{"BuildGroup", APIVersion, "buildgroups", "bg", true, true, false, "spec.application,status.phase"},
	{"Component", APIVersion, "components", "comp", true, true, false, "spec.application"},
	{"IntegrationTestScenario", APIVersion, "integrationtestscenarios", "its", true, true, false, "spec.application"},
	{"Namespace", "v1", "namespaces", "ns", false, true, false, "spec.type,status.phase"},
	{"Policy", APIVersion, "policies", "pol,ecp", true, false, false, ""},
	{"Release", APIVersion, "releases", "rel", true, true, true, "spec.releasePlan,spec.snapshot"},
	{"ReleasePlan", APIVersion, "releaseplans", "rp", true, true, false, "spec.application,spec.target"},
	{"ReleasePlanAdmission", APIVersion, "releaseplanadmissions", "rpa", true, true, false, "spec.origin"},
	{"RoleBinding", APIVersion, "rolebindings", "rb", true, false, false, "spec.role"},
	{"Secret", "v1", "secrets", "", true, false, false, "type"},
	{"ServiceAccount", APIVersion, "serviceaccounts", "sa", true, false, false, ""},
	{"Snapshot", APIVersion, "snapshots", "snap", true, true, true, "spec.application"},
	{"Token", APIVersion, "tokens", "", false, true, false, "spec.subject"},
	{"User", APIVersion, "users", "", false, false, false, "spec.email"},
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	if got := len(Kinds()); got != len(wantKinds) {
		t.Fatalf("%d kinds registered, want %d", got, len(wantKinds))
	}
	for i, w := range wantKinds {
		k := Kinds()[i]
		got := []any{k.Kind, k.APIVersion(), k.Plural, strings.Join(k.ShortNames, ","), k.Namespaced, k.HasStatus, k.ImmutableSpec, fieldKeys(k)}
		want := []any{w.kind, w.apiVersion, w.plural, w.short, w.namespaced, w.status, w.immutable, w.fields}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("kind %d = %v, want %v", i, got, want)
		}
		if k.Singular != strings.ToLower(k.Kind) {
			t.Errorf("%s: singular %q", k.Kind, k.Singular)
		}
	}
}

func fieldKeys(k *Kind) string {
	if k.Fields == nil {
		return ""
	}
	return strings.Join(sortedKeys(k.Fields(k.New())), ",")
}

func TestLookup(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{
		"its": "IntegrationTestScenario", "RPA": "ReleasePlanAdmission", "ecp": "Policy",
		"components.kiln.dev": "Component", "namespaces": "Namespace", "Secret": "Secret",
	} {
		k, ok := Lookup(name)
		if !ok || k.Kind != want {
			t.Errorf("Lookup(%q) = %v, %v; want %s", name, k, ok, want)
		}
	}
	if _, ok := Lookup("components.appstudio.redhat.com"); ok {
		t.Error("Lookup accepted a plural with a foreign group")
	}
}

func TestForAPIVersionKind(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ apiVersion, kind, want string }{
		{"kiln.dev/v1alpha1", "Component", "Component"},
		{"appstudio.redhat.com/v1alpha1", "Snapshot", "Snapshot"},
		{"appstudio.redhat.com/v1alpha1", "EnterpriseContractPolicy", "Policy"},
		{"v1", "Secret", "Secret"},
		{"v1", "Component", ""},
		{"kiln.dev/v1alpha1", "EnterpriseContractPolicy", ""},
		{"kiln.dev/v1alpha1", "Secret", ""},
	} {
		got := ""
		if k, ok := ForAPIVersionKind(tc.apiVersion, tc.kind); ok {
			got = k.Kind
		}
		if got != tc.want {
			t.Errorf("ForAPIVersionKind(%s, %s) = %q, want %q", tc.apiVersion, tc.kind, got, tc.want)
		}
	}
}

func TestKindsAreComplete(t *testing.T) {
	t.Parallel()
	for _, k := range Kinds() {
		obj := k.New()
		if got, ok := KindOf(obj); !ok || got != k {
			t.Errorf("KindOf(%T) = %v", obj, got)
		}
		if len(k.Columns) == 0 {
			t.Errorf("%s has no columns", k.Kind)
		}
		for _, c := range k.Columns {
			_ = c.Value(obj) // must not panic on a zero object
		}
		if _, hasStatus := reflect.TypeOf(obj).Elem().FieldByName("Status"); hasStatus != k.HasStatus {
			t.Errorf("%s: HasStatus = %v but the type's Status field presence is %v", k.Kind, k.HasStatus, hasStatus)
		}
	}
}

func TestRefs(t *testing.T) {
	t.Parallel()
	c := &Component{Spec: ComponentSpec{Application: "greet"}}
	c.Namespace = "team-a"
	refs := Lookup1(t, "Component").Refs(c)
	if len(refs) != 1 || refs[0] != (Ref{Kind: "Application", Namespace: "team-a", Name: "greet", Path: refs[0].Path, Owner: true}) ||
		refs[0].Path.String() != "spec.application" {
		t.Errorf("Component refs = %+v", refs)
	}
	r := &Release{Spec: ReleaseSpec{Snapshot: "s", ReleasePlan: "p"}}
	refs = Lookup1(t, "Release").Refs(r)
	if len(refs) != 2 || refs[0].Kind != "Snapshot" || refs[1].Path.String() != "spec.releasePlan" || refs[0].Owner || refs[1].Owner {
		t.Errorf("Release refs = %+v", refs)
	}
	rpa := &ReleasePlanAdmission{Spec: ReleasePlanAdmissionSpec{Policy: "std"}}
	if refs = Lookup1(t, "rpa").Refs(rpa); len(refs) != 1 || refs[0].Kind != "Policy" || refs[0].Owner {
		t.Errorf("ReleasePlanAdmission refs = %+v", refs)
	}
}

func Lookup1(t *testing.T, name string) *Kind {
	t.Helper()
	k, ok := Lookup(name)
	if !ok {
		t.Fatalf("no kind %s", name)
	}
	return k
}

func TestRegisterRejectsDuplicateNames(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Error("register accepted a second kind with short name \"its\"")
		}
	}()
	register(&Kind{Kind: "Other", Plural: "others", Singular: "other", ShortNames: []string{"its"}})
}

func TestColumns(t *testing.T) {
	t.Parallel()
	rel := &Release{Spec: ReleaseSpec{Snapshot: "s1", ReleasePlan: "p"}}
	if got := columnValues(t, "Release", rel); got != "s1|p||Pending|" {
		t.Errorf("Release columns = %s", got)
	}
	rel.Status.Conditions = append(rel.Status.Conditions, metav1Condition(ConditionReleased, "Succeeded"))
	if got := columnValues(t, "Release", rel); got != "s1|p||Succeeded|" {
		t.Errorf("Release columns = %s", got)
	}
	c := &Component{Spec: ComponentSpec{Application: "a", Source: ComponentSource{Git: &GitSource{URL: "u", Revision: "main"}}},
		Status: ComponentStatus{LastBuiltCommit: "4b825dc642cb6eb9a060e54bf8d69288fbee4904"}}
	if got := columnValues(t, "Component", c); got != "a|u|main|4b825dc642cb" {
		t.Errorf("Component columns = %s", got)
	}
}

func columnValues(t *testing.T, kind string, obj Object) string {
	t.Helper()
	var vals []string
	for _, c := range Lookup1(t, kind).Columns {
		vals = append(vals, c.Value(obj))
	}
	return strings.Join(vals, "|")
}

func metav1Condition(typ, reason string) metav1.Condition {
	return metav1.Condition{Type: typ, Status: metav1.ConditionTrue, Reason: reason}
}
