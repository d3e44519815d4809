package cli

import (
	"strings"
	"testing"
)

const shopYAML = `# components first on purpose: apply must order them
apiVersion: kiln.dev/v1alpha1
kind: Component
metadata:
  name: web
  labels: {app: shop}
spec:
  application: shop
  source: {git: {url: "https://git.example/web"}}
---
# a comment-only document is skipped
---
apiVersion: v1
kind: List
items:
- apiVersion: appstudio.redhat.com/v1alpha1
  kind: Application
  metadata: {name: shop}
  spec: {displayName: Shop}
- apiVersion: v1
  kind: Secret
  metadata: {name: creds}
  stringData: {token: s3cret}
---
apiVersion: v1
kind: Namespace
metadata: {name: team-a}
spec: {type: tenant}
`

func TestApplyCreatesInOrderThenIsNoOp(t *testing.T) {
	dir := isolate(t)
	srv := newServer(t)
	f := writeFile(t, dir, "shop.yaml", shopYAML)

	r := kiln(t, srv, "", "apply", "-f", f, "-n", "team-a").must(t)
	want := "namespace/team-a created\nsecret/creds created\napplication.kiln.dev/shop created\ncomponent.kiln.dev/web created\n"
	if r.out != want {
		t.Fatalf("first apply printed:\n%s\nwant:\n%s", r.out, want)
	}
	app := srv.Object(t, "applications", "team-a", "shop")
	if app == nil || app.APIVersion() != "kiln.dev/v1alpha1" || app.String("spec", "displayName") != "Shop" {
		t.Fatalf("konflux application stored as %v", app)
	}
	rv := srv.ResourceVersion(t)
	patches := srv.CountRequests("PATCH", "/")

	r = kiln(t, srv, "", "apply", "-f", f, "-n", "team-a").must(t)
	want = "namespace/team-a unchanged\nsecret/creds unchanged\napplication.kiln.dev/shop unchanged\ncomponent.kiln.dev/web unchanged\n"
	if r.out != want {
		t.Fatalf("second apply printed:\n%s\nwant:\n%s", r.out, want)
	}
	if got := srv.ResourceVersion(t); got != rv {
		t.Errorf("re-apply moved the resourceVersion from %d to %d", rv, got)
	}
	// Only the Secret (whose values the server hides) may be patched.
	if n := srv.CountRequests("PATCH", "/") - patches; n > 1 {
		t.Errorf("re-apply sent %d patches, want at most 1 (the Secret)", n)
	}
	if srv.CountRequests("PATCH", "/apis/") != 0 {
		t.Errorf("re-apply patched kiln.dev objects: %v", srv.Requests())
	}
}

func TestApplyConfiguresChanges(t *testing.T) {
	dir := isolate(t)
	srv := newServer(t, "a")
	srv.Seed(t, application("a", "shop"), application("a", "store"))
	f := writeFile(t, dir, "c.yaml", "apiVersion: kiln.dev/v1alpha1\nkind: Component\nmetadata: {name: web, namespace: a}\nspec: {application: shop, source: {git: {url: \"https://git.example/web\"}}}\n")
	kiln(t, srv, "", "apply", "-f", f).must(t)
	writeFile(t, dir, "c.yaml", "apiVersion: kiln.dev/v1alpha1\nkind: Component\nmetadata: {name: web, namespace: a, labels: {tier: web}}\nspec: {application: store, source: {git: {url: \"https://git.example/web\"}}}\n")
	r := kiln(t, srv, "", "apply", "-f", f).must(t)
	if r.out != "component.kiln.dev/web configured\n" {
		t.Fatalf("printed %q", r.out)
	}
	got := srv.Object(t, "components", "a", "web")
	if got.String("spec", "application") != "store" || got.Labels()["tier"] != "web" {
		t.Fatalf("stored %v", got)
	}
}

func TestApplyStdinDefaultNamespaceFromConfig(t *testing.T) {
	isolate(t)
	srv := newServer(t, "team-b")
	writeFile(t, ".", ".kiln/client.yaml", "server: "+srv.URL+"\ntoken: "+srv.AdminToken+"\nnamespace: team-b\n")
	root := NewRootCommand(testOptions()...)
	var out strings.Builder
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetIn(strings.NewReader(`{"apiVersion":"kiln.dev/v1alpha1","kind":"Application","metadata":{"name":"shop"}}`))
	root.SetArgs([]string{"apply", "-f", "-"})
	if err := root.Execute(); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if srv.Object(t, "applications", "team-b", "shop") == nil {
		t.Fatalf("not created in the config's namespace: %s", out.String())
	}
}

func TestApplyReportsEachFailureAndContinues(t *testing.T) {
	dir := isolate(t)
	srv := newServer(t, "a")
	f := writeFile(t, dir, "bad.yaml", `apiVersion: kiln.dev/v1alpha1
kind: Component
metadata: {name: broken, namespace: a}
spec: {application: shop, invalid: nope}
---
apiVersion: kiln.dev/v1alpha1
kind: Widget
metadata: {name: w, namespace: a}
---
apiVersion: kiln.dev/v1alpha1
kind: Application
metadata: {name: shop, namespace: a}
---
kind: Component
metadata: {name: noversion}
---
a: [unclosed
`)
	r := kiln(t, srv, "", "apply", "-f", f)
	if r.code == nil || !strings.Contains(r.code.Error(), "4 of 5 objects failed") {
		t.Fatalf("err = %v", r.code)
	}
	if r.out != "application.kiln.dev/shop created\n" {
		t.Errorf("stdout = %q", r.out)
	}
	for _, want := range []string{
		"bad.yaml, document 1 (Component/broken): Error from server (Invalid): ",
		"\n  spec.invalid: unknown field (known fields: application, ",
		"bad.yaml, document 2 (Widget/w): the server has no kind \"Widget\"",
		"bad.yaml, document 4: apiVersion and kind are required",
		"bad.yaml, document 5: invalid YAML",
	} {
		if !strings.Contains(r.err, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.err)
		}
	}
}

func TestApplyNamespaceMismatch(t *testing.T) {
	dir := isolate(t)
	srv := newServer(t, "a", "b")
	f := writeFile(t, dir, "c.yaml", "apiVersion: kiln.dev/v1alpha1\nkind: Application\nmetadata: {name: shop, namespace: a}\n")
	r := kiln(t, srv, "", "apply", "-f", f, "-n", "b")
	if r.code == nil || !strings.Contains(r.err, `does not match --namespace "b"`) {
		t.Fatalf("err %v, stderr %s", r.code, r.err)
	}
}

func TestApplyDirectory(t *testing.T) {
	dir := isolate(t)
	srv := newServer(t, "x")
	writeFile(t, dir, "m/a.yaml", "apiVersion: kiln.dev/v1alpha1\nkind: Application\nmetadata: {name: a, namespace: x}\n")
	writeFile(t, dir, "m/sub/b.json", `{"apiVersion":"kiln.dev/v1alpha1","kind":"Application","metadata":{"name":"b","namespace":"x"}}`)
	writeFile(t, dir, "m/README.md", "not a manifest")
	r := kiln(t, srv, "", "apply", "-f", dir+"/m").must(t)
	if r.out != "application.kiln.dev/a created\n" {
		t.Fatalf("without -R: %q", r.out)
	}
	r = kiln(t, srv, "", "apply", "-f", dir+"/m", "-R").must(t)
	if r.out != "application.kiln.dev/a unchanged\napplication.kiln.dev/b created\n" {
		t.Fatalf("with -R: %q", r.out)
	}
}
