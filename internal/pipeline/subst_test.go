package pipeline

import (
	"slices"
	"strings"
	"testing"
)

func TestParseRef(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in    string
		root  string
		parts []string
		star  bool
		index int
		err   string
	}{
		{"params.name", "params", []string{"name"}, false, -1, ""},
		{`params["dotted.name"]`, "params", []string{"dotted.name"}, false, -1, ""},
		{`params['x'].key`, "params", []string{"x", "key"}, false, -1, ""},
		{"params.list[*]", "params", []string{"list"}, true, -1, ""},
		{"params.list[2]", "params", []string{"list"}, false, 2, ""},
		{"tasks.build.results.digest", "tasks", []string{"build", "results", "digest"}, false, -1, ""},
		{"context.task.retry-count", "context", []string{"task", "retry-count"}, false, -1, ""},
		{"params.a[x]", "", nil, false, -1, "expected [*], [N]"},
		{"params.a[*].b", "", nil, false, -1, "an index is allowed only at the end"},
		{`params["open`, "", nil, false, -1, "unterminated"},
	}
	for _, c := range cases {
		r, ok, err := parseRef("$("+c.in+")", c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if !ok || err != nil || r.root != c.root || !slices.Equal(r.parts, c.parts) || r.star != c.star || r.index != c.index {
			t.Errorf("%s: %+v ok=%v err=%v", c.in, r, ok, err)
		}
	}
	for _, shell := range []string{"date +%s", "dirname \"$f\"", "ls *.spec", "cd x && pwd"} {
		if _, ok, err := parseRef("$("+shell+")", shell); ok || err != nil {
			t.Errorf("%q taken for a Tekton variable (err %v)", shell, err)
		}
	}
}

func TestSubstitution(t *testing.T) {
	t.Parallel()
	values := map[string]ParamValue{
		"s": String("one"), "list": Array("a", "b c"), "obj": Object(map[string]string{"k": "v"}), "tricky": String("$(params.s)"),
	}
	look := func(r varRef) (ParamValue, bool, error) {
		if r.root != "params" {
			return ParamValue{}, true, nil
		}
		return paramRef(r, values)
	}
	strs := []struct{ in, want, err string }{
		{"x=$(params.s) y=$(params['s'])", "x=one y=one", ""},
		{"$(params.obj.k) $(params.list[1])", "v b c", ""},
		{"keep $(tasks.a.results.b) and $(date)", "keep $(tasks.a.results.b) and $(date)", ""},
		{"single pass: $(params.tricky)", "single pass: $(params.s)", ""},
		{"$(params.list)", "", "$(params.list) is an array: use it as a whole command or args item"},
		{"$(params.nope)", "", `$(params.nope): no param "nope" (declared: list, obj, s, tricky)`},
		{"$(params.list[5])", "", "index 5 out of range (2 items)"},
		{"$(params.s.k)", "", ".k needs an object, the value is a string"},
	}
	for _, c := range strs {
		got, err := substString(c.in, look)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q: %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	got, err := substList([]string{"-v", "$(params.list[*])", "$(params.s)-x", "$(tasks.t.results.r[*])"}, look)
	if want := []string{"-v", "a", "b c", "one-x", "$(tasks.t.results.r[*])"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("list: %q, %v", got, err)
	}
	if _, err := substList([]string{"$(params.obj[*])"}, look); err == nil {
		t.Error("an object expanded into a list")
	}
}
