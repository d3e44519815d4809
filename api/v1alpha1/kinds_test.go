package v1alpha1

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func decodeOne(t *testing.T, doc string) (Object, *Kind) {
	t.Helper()
	obj, k, err := Decode([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return obj, k
}

func TestReleasePlanDefaultsAndAutoRelease(t *testing.T) {
	t.Parallel()
	obj, k := decodeOne(t, "apiVersion: kiln.dev/v1alpha1\nkind: ReleasePlan\nmetadata: {name: rp, namespace: t}\nspec: {application: a, target: b}\n")
	rp := obj.(*ReleasePlan)
	if errs := Admit(k, rp); len(errs) > 0 {
		t.Fatal(errs)
	}
	if !rp.AutoRelease() || rp.Labels[LabelAutoRelease] != "true" || rp.Spec.ReleaseGracePeriodDays != 7 {
		t.Errorf("defaults: autoRelease=%v labels=%v grace=%d", rp.AutoRelease(), rp.Labels, rp.Spec.ReleaseGracePeriodDays)
	}
	rp.Labels[LabelAutoRelease] = "false"
	if rp.AutoRelease() {
		t.Error(`AutoRelease() with label "false" = true`)
	}
}

func TestIsOptional(t *testing.T) {
	t.Parallel()
	its := &IntegrationTestScenario{}
	if its.IsOptional() {
		t.Error("unlabelled scenario is optional")
	}
	its.Labels = map[string]string{LabelTestOptional: "true"}
	if !its.IsOptional() {
		t.Error(`scenario labelled "true" is not optional`)
	}
}

func TestComponentDefaults(t *testing.T) {
	t.Parallel()
	c := &Component{ObjectMeta: metav1.ObjectMeta{Name: "cli"}, Spec: ComponentSpec{Source: ComponentSource{Git: &GitSource{URL: "u"}}}}
	c.Default()
	if c.Spec.ComponentName != "cli" || c.Spec.Source.Git.Revision != "main" || c.Spec.Source.Git.Context != "" {
		t.Errorf("defaults: %+v %+v", c.Spec, *c.Spec.Source.Git)
	}
}

func TestSecretNormalize(t *testing.T) {
	t.Parallel()
	s := &Secret{Data: map[string][]byte{"a": []byte("1"), "b": []byte("2")}, StringData: map[string]string{"b": "3", "c": "4"}}
	s.Normalize()
	if s.StringData != nil || string(s.Data["a"]) != "1" || string(s.Data["b"]) != "3" || string(s.Data["c"]) != "4" {
		t.Errorf("after Normalize: data=%q stringData=%v", s.Data, s.StringData)
	}
}

func TestSecretSizeLimit(t *testing.T) {
	t.Parallel()
	s := &Secret{Type: SecretTypeOpaque, Data: map[string][]byte{"a": make([]byte, MaxSecretSize)}, StringData: map[string]string{"b": "x"}}
	errs := s.Validate()
	if len(errs) != 1 || errs[0].Field != "data" || !strings.Contains(errs[0].Error(), "Too long") {
		t.Errorf("1 MiB + 1 byte: %v", errs)
	}
	delete(s.StringData, "b")
	if errs := s.Validate(); len(errs) != 0 {
		t.Errorf("exactly 1 MiB: %v", errs)
	}
}

func TestSecretUpdate(t *testing.T) {
	t.Parallel()
	yes := true
	old := &Secret{Type: SecretTypeOpaque, Immutable: &yes, Data: map[string][]byte{"a": []byte("1")}}
	same := &Secret{Type: SecretTypeOpaque, Immutable: &yes, Data: map[string][]byte{"a": []byte("1")}}
	if errs := same.ValidateUpdate(old); len(errs) != 0 {
		t.Errorf("unchanged immutable secret: %v", errs)
	}
	changed := &Secret{Type: SecretTypeBasicAuth, Data: map[string][]byte{"a": []byte("2")}}
	var got []string
	for _, e := range changed.ValidateUpdate(old) {
		got = append(got, e.Field)
	}
	if strings.Join(got, ",") != "type,immutable,data" {
		t.Errorf("changed immutable secret: errors on %v, want type, immutable, data", got)
	}
	mutable := &Secret{Type: SecretTypeOpaque, Data: map[string][]byte{"a": []byte("1")}}
	if errs := changed.ValidateUpdate(mutable); len(errs) != 1 || errs[0].Field != "type" {
		t.Errorf("mutable secret, type changed: %v", errs)
	}
}

func TestSubjects(t *testing.T) {
	t.Parallel()
	s := ServiceAccountSubject("team-a", "bot")
	if s != "system:serviceaccount:team-a:bot" {
		t.Errorf("ServiceAccountSubject = %s", s)
	}
	if ns, name, sa := ParseSubject(s); ns != "team-a" || name != "bot" || !sa {
		t.Errorf("ParseSubject(%s) = %s, %s, %v", s, ns, name, sa)
	}
	if ns, name, sa := ParseSubject("alice"); ns != "" || name != "alice" || sa {
		t.Errorf("ParseSubject(alice) = %s, %s, %v", ns, name, sa)
	}
	sub := Subject{Kind: SubjectServiceAccount, Name: "bot", Namespace: "team-a"}
	if sub.String() != s {
		t.Errorf("Subject.String() = %s", sub)
	}
}

func TestTokenExpired(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	tok := &Token{}
	if tok.Expired(now) {
		t.Error("token without expiresAt expired")
	}
	tok.Spec.ExpiresAt = &metav1.Time{Time: now}
	if !tok.Expired(now) || tok.Expired(now.Add(-time.Second)) {
		t.Error("expiry is not at expiresAt")
	}
}

func TestApplyOrder(t *testing.T) {
	t.Parallel()
	order := []string{"Namespace", "users", "sa", "RoleBinding", "secret", "EnterpriseContractPolicy", "app",
		"Component", "its", "rp", "ReleasePlanAdmission", "Snapshot", "Release", "Unknown"}
	for i := 1; i < len(order); i++ {
		if ApplyOrder(order[i-1]) >= ApplyOrder(order[i]) {
			t.Errorf("ApplyOrder(%s) = %d, not before ApplyOrder(%s) = %d", order[i-1], ApplyOrder(order[i-1]), order[i], ApplyOrder(order[i]))
		}
	}
	if ApplyOrder("Policy") != ApplyOrder("EnterpriseContractPolicy") {
		t.Error("the ECP alias does not rank as Policy")
	}
}

func TestSortForApply(t *testing.T) {
	t.Parallel()
	objs := []Object{
		&Release{ObjectMeta: metav1.ObjectMeta{Name: "r"}},
		&Component{ObjectMeta: metav1.ObjectMeta{Name: "c1"}},
		&Namespace{ObjectMeta: metav1.ObjectMeta{Name: "n"}},
		&Component{ObjectMeta: metav1.ObjectMeta{Name: "c2"}},
		&Application{ObjectMeta: metav1.ObjectMeta{Name: "a"}},
	}
	SortForApply(objs)
	var names []string
	for _, o := range objs {
		names = append(names, o.GetName())
	}
	if got := strings.Join(names, ","); got != "n,a,c1,c2,r" {
		t.Errorf("order = %s, want n,a,c1,c2,r", got)
	}
}

func TestAdmitUpdate(t *testing.T) {
	t.Parallel()
	k := Lookup1(t, "Snapshot")
	snap := func(status string) *Snapshot {
		s := &Snapshot{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "t", UID: "u1"}, Spec: SnapshotSpec{Application: "a",
			Components: []SnapshotComponent{{Name: "c", ContainerImage: "r.io/c@sha256:" + strings.Repeat("a", 64)}}}}
		if status != "" {
			s.Status.Conditions = []metav1.Condition{metav1Condition(ConditionTestsPassed, status)}
		}
		return s
	}
	if errs := AdmitUpdate(k, snap(""), snap("Passed")); len(errs) != 0 {
		t.Errorf("status-only change: %v", errs)
	}
	changed := snap("")
	changed.Spec.Application = "b"
	changed.Namespace = "other"
	changed.UID = "u2"
	var got []string
	for _, e := range AdmitUpdate(k, snap(""), changed) {
		got = append(got, e.Field)
	}
	if strings.Join(got, ",") != "metadata.namespace,metadata.uid,spec" {
		t.Errorf("errors on %v, want metadata.namespace, metadata.uid, spec (once)", got)
	}
}

func TestAdmitSetsTypeMeta(t *testing.T) {
	t.Parallel()
	app := &Application{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "t"}}
	if errs := Admit(Lookup1(t, "app"), app); len(errs) != 0 {
		t.Fatal(errs)
	}
	if app.APIVersion != APIVersion || app.Kind != "Application" || app.Spec.DisplayName != "a" {
		t.Errorf("after Admit: %s %s displayName=%q", app.APIVersion, app.Kind, app.Spec.DisplayName)
	}
}

func TestImmutableSpecValidateUpdate(t *testing.T) {
	t.Parallel()
	old := &Snapshot{Spec: SnapshotSpec{Application: "a"}}
	same := &Snapshot{Spec: SnapshotSpec{Application: "a"}}
	same.Status.Conditions = []metav1.Condition{metav1Condition(ConditionReleased, "Succeeded")}
	if errs := same.ValidateUpdate(old); len(errs) != 0 {
		t.Errorf("status change: %v", errs)
	}
	changed := &Snapshot{Spec: SnapshotSpec{Application: "b"}}
	if errs := changed.ValidateUpdate(old); len(errs) != 1 || errs[0].Error() != "spec: Forbidden: spec is immutable: create a new Snapshot" {
		t.Errorf("spec change: %v", errs)
	}
	rel := &Release{Spec: ReleaseSpec{Snapshot: "s2"}}
	if errs := rel.ValidateUpdate(&Release{Spec: ReleaseSpec{Snapshot: "s1"}}); len(errs) != 1 || errs[0].Detail != "spec is immutable: create a new Release" {
		t.Errorf("release spec change: %v", errs)
	}
}
