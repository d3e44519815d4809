package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/store"
	"github.com/kilnbuild/kiln/internal/store/sqlstore"
)

// fixtureObjects are stored before fuzzing, so that lists and patches have
// something to work on.
var fixtureObjects = []string{
	"apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a}\n",
	"apiVersion: kiln.dev/v1alpha1\nkind: Application\nmetadata: {name: shop, namespace: team-a, labels: {tier: web}}\n",
	"apiVersion: kiln.dev/v1alpha1\nkind: Component\nmetadata: {name: web, namespace: team-a, labels: {app: shop, tier: web}}\n" +
		"spec: {application: shop, source: {git: {url: \"https://git.example/web\"}}}\n",
}

// newFixture is a Registry over a real SQLite store holding fixtureObjects.
func newFixture(tb testing.TB) *Registry {
	tb.Helper()
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(tb.TempDir(), "kiln.db"), store.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	r := New(st, nil)
	for _, doc := range fixtureObjects {
		obj, k, err := v1alpha1.Decode([]byte(doc))
		if err == nil {
			_, err = r.Create(context.Background(), k, obj, CreateOptions{})
		}
		if err != nil {
			tb.Fatalf("storing the fixture: %v", err)
		}
	}
	return r
}

// clientError fails unless err is nil or a Status of the 4xx class: bad
// input is the client's mistake, never the server's.
func clientError(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var se *apierrors.StatusError
	if !errors.As(err, &se) || se.Status().Code < 400 || se.Status().Code >= 500 {
		t.Fatalf("%s: %v (%T) is not a 4xx Status", what, err, err)
	}
	if se.Status().Message == "" {
		t.Fatalf("%s: a Status without a message", what)
	}
}

// FuzzList: label and field selectors, continue tokens and limits from a
// query string list objects or fail with a 4xx Status, never a server
// error, against the real store.
func FuzzList(f *testing.F) {
	r := newFixture(f)
	for _, s := range [][2]string{{"app=shop", ""}, {"tier in (web,db),!legacy", "metadata.name=web"}, {"app notin (a)", "spec.application!=shop"},
		{"a.b/c-d_e", "metadata.namespace==team-a"}, {"x=\x00", "metadata.name=\xff"}, {"!", "="}, {"app==", "spec.application="}} {
		f.Add(s[0], s[1], "", 0)
	}
	f.Add("", "", "bm90LWEtdG9rZW4", 1)
	k := v1alpha1.MustLookup("Component")
	f.Fuzz(func(t *testing.T, labelSel, fieldSel, cont string, limit int) {
		res, err := r.List(context.Background(), k, ListOptions{Namespace: "team-a", LabelSelector: labelSel, FieldSelector: fieldSel,
			Continue: cont, Limit: limit})
		clientError(t, fmt.Sprintf("labels %q, fields %q, continue %q", labelSel, fieldSel, cont), err)
		if err == nil && len(res.Items) > 1 {
			t.Fatalf("one component stored, %d listed", len(res.Items))
		}
	})
}

// FuzzPatch: merge, strategic and JSON patches of any content apply to a
// stored object or fail with a 4xx Status; the patched document stays
// within the patch's bounds (no "copy" amplification).
func FuzzPatch(f *testing.F) {
	r := newFixture(f)
	k := v1alpha1.MustLookup("Application")
	cur, err := r.Get(context.Background(), k, "team-a", "shop", GetOptions{})
	if err != nil {
		f.Fatal(err)
	}
	doc, _ := json.Marshal(cur)
	for _, s := range []struct {
		typ   uint8
		patch string
	}{
		{0, `{"metadata":{"labels":{"x":"y"}},"spec":{"description":"d"}}`},
		{0, `{"metadata":{"labels":{"x":"1","x":"2"}}}`},
		{1, `{"metadata":{"$patch":"replace","labels":{"$retainKeys":["a"]}}}`},
		{2, `[{"op":"add","path":"/metadata/labels/z","value":"1"},{"op":"copy","from":"/metadata","path":"/spec/m"}]`},
		{2, `[{"op":"test","path":"/kind","value":"Application"},{"op":"move","from":"/metadata/labels","path":"/metadata/annotations"}]`},
		{2, "- {op: remove, path: /spec}\n"},
	} {
		f.Add(s.typ, []byte(s.patch))
	}
	types := []string{MergePatch, StrategicPatch, JSONPatch, "application/apply-patch+yaml"}
	f.Fuzz(func(t *testing.T, typ uint8, patch []byte) {
		mt := types[int(typ)%len(types)]
		out, err := applyPatch(mt, doc, patch)
		clientError(t, "applying "+mt, err)
		if err != nil {
			return
		}
		if limit := 6 * (len(doc) + len(patch) + maxPatchCopyBytes); len(out) > limit {
			t.Fatalf("a %d-byte patch grew a %d-byte object to %d bytes", len(patch), len(doc), len(out))
		}
		_, err = decodePatched(k, out)
		clientError(t, "decoding the patched object", err)
	})
}

// TestJSONPatchCopyIsBounded: a JSON patch whose copy operations double a
// subtree each time fails once they copy more than the bound, instead of
// growing the object to gigabytes in memory; operations missing what RFC
// 6902 requires (which crashed the patch library) and too many operations
// are 400s.
func TestJSONPatchCopyIsBounded(t *testing.T) {
	t.Parallel()
	doc := []byte(`{"apiVersion":"kiln.dev/v1alpha1","kind":"Application","metadata":{"name":"a","namespace":"n"},"spec":{}}`)
	ops := []string{`{"op":"add","path":"/spec/a","value":{"k":"` + strings.Repeat("b", 1000) + `"}}`}
	for i := range 40 { // 2^40 KB without the bound
		ops = append(ops, fmt.Sprintf(`{"op":"copy","from":"/spec/a","path":"/spec/a/c%d"}`, i))
	}
	_, err := applyPatch(JSONPatch, doc, []byte("["+strings.Join(ops, ",")+"]"))
	if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "copy") {
		t.Fatalf("err = %v, want a 400 about the copy size", err)
	}
	for _, p := range []string{`[{"op":"test","path":""}]`, `[{"op":"test","path":"","value":null}]`, `[{"op":"copy","path":"/a"}]`, `[{"op":"frob","path":"/a"}]`} {
		if _, err := applyPatch(JSONPatch, doc, []byte(p)); !apierrors.IsBadRequest(err) {
			t.Errorf("malformed patch %s: err = %v, want a 400", p, err)
		}
	}
	if out, err := applyPatch(JSONPatch, doc, []byte(`[{"op":"add","path":"/spec/x","value":null}]`)); err != nil || !strings.Contains(string(out), `"x":null`) {
		t.Errorf("adding null: %s, %v", out, err)
	}
	many := "[" + strings.Repeat(`{"op":"test","path":"/kind","value":"Application"},`, maxPatchOperations) + `{"op":"test","path":"/kind","value":"Application"}]`
	if _, err := applyPatch(JSONPatch, doc, []byte(many)); !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "at most") {
		t.Fatalf("%d operations: err = %v, want a 400", maxPatchOperations+1, err)
	}
}
