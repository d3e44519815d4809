package v1alpha1

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestGitURL(t *testing.T) {
	t.Parallel()
	for url, want := range map[string]string{
		"https://github.com/org/repo":         "",
		"https://github.com/org/repo.git":     "",
		"ssh://git@host:2222/org/repo.git":    "",
		"git@github.com:org/repo.git":         "",
		"file:///srv/git/repo":                "",
		"file://localhost/srv/git/repo":       "",
		"http://localhost:3000/org/repo":      "",
		"http://127.0.0.1/repo":               "",
		"http://[::1]:8080/repo":              "",
		"htp://x":                             "not a git URL — expected https://, ssh://, git@host:path or file://",
		"git://github.com/org/repo":           "not a git URL",
		"github.com/org/repo":                 "not a git URL",
		"http://github.com/org/repo":          "http:// is accepted only for localhost or 127.0.0.1 (local testing) — use https://",
		"https://github.com":                  "needs a host and a repository path",
		"https:///repo":                       "needs a host and a repository path",
		"file://srv/git/repo":                 "file:// URLs need an absolute path",
		"https://github.com/org/repo with sp": "must not contain whitespace",
		"":                                    "Required value",
	} {
		errs := validateGitURL(field.NewPath("url"), url)
		got := ""
		if len(errs) > 0 {
			got = errs[0].Error()
		}
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("validateGitURL(%q) = %q, want containing %q", url, got, want)
		}
	}
}

func TestParseImageReference(t *testing.T) {
	t.Parallel()
	const hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	ok := map[string]ImageReference{
		"nginx":                             {Repository: "nginx"},
		"quay.io/org/app:1.0":               {Repository: "quay.io/org/app", Tag: "1.0"},
		"localhost:5000/a/b@sha256:" + hex:  {Repository: "localhost:5000/a/b", Digest: "sha256:" + hex},
		"r.io/a:v1@sha256:" + hex:           {Repository: "r.io/a", Tag: "v1", Digest: "sha256:" + hex},
		"registry.example.com/a__b/c-d.e_f": {Repository: "registry.example.com/a__b/c-d.e_f"},
	}
	for in, want := range ok {
		got, err := ParseImageReference(in)
		if err != nil || got != want || got.String() != in {
			t.Errorf("ParseImageReference(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "Quay.io/Org/App", "a b", "a:", "a@sha256:abc", "a@sha256:" + strings.ToUpper(hex), "/a", "a//b", "a:tag:tag"} {
		if got, err := ParseImageReference(in); err == nil {
			t.Errorf("ParseImageReference(%q) = %+v, want an error", in, got)
		}
	}
}

func TestRelPath(t *testing.T) {
	t.Parallel()
	for p, valid := range map[string]bool{
		"": true, "cli": true, "./cli": true, "a/b/c": true, "a..b": true,
		"/abs": false, "../x": false, "a/../../b": false, "a/..": false, `\x`: false,
	} {
		if got := len(validateRelPath(field.NewPath("context"), p)) == 0; got != valid {
			t.Errorf("validateRelPath(%q) valid = %v, want %v", p, got, valid)
		}
	}
}

func TestValidateObjectMeta(t *testing.T) {
	t.Parallel()
	app := &Application{}
	app.Name, app.Namespace = "greet", "team-a"
	app.Labels = map[string]string{"bad key!": "v", "ok": "bad value!"}
	app.Annotations = map[string]string{"big": strings.Repeat("x", 300*1024)}
	app.Finalizers = []string{"kiln.dev/x", "not valid"}
	var fields []string
	for _, e := range ValidateObjectMeta(Lookup1(t, "Application"), app) {
		fields = append(fields, e.Field)
	}
	want := "metadata.labels,metadata.labels,metadata.annotations,metadata.finalizers"
	if got := strings.Join(fields, ","); got != want {
		t.Errorf("error fields = %s, want %s", got, want)
	}
}

func TestValidateObjectMetaNames(t *testing.T) {
	t.Parallel()
	ns := &Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a.b"}}
	if errs := ValidateObjectMeta(Lookup1(t, "Namespace"), ns); len(errs) != 1 || errs[0].Field != "metadata.name" {
		t.Errorf("Namespace a.b: %v, want a metadata.name error (labels only)", errs)
	}
	app := &Application{ObjectMeta: metav1.ObjectMeta{Name: "a.b", Namespace: "t"}}
	if errs := ValidateObjectMeta(Lookup1(t, "Application"), app); len(errs) != 0 {
		t.Errorf("Application a.b: %v, want valid (subdomain)", errs)
	}
	app.Name = ""
	if errs := ValidateObjectMeta(Lookup1(t, "Application"), app); len(errs) != 1 || errs[0].Type != field.ErrorTypeRequired {
		t.Errorf("Application without name: %v", errs)
	}
}
