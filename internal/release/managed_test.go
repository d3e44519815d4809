package release

import (
	"reflect"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/publish"
)

func TestBuiltin(t *testing.T) {
	t.Parallel()
	ref := func(resolver string, params ...string) v1alpha1.ResolverRef {
		r := v1alpha1.ResolverRef{Resolver: resolver}
		for i := 0; i+1 < len(params); i += 2 {
			r.Params = append(r.Params, v1alpha1.Param{Name: params[i], Value: params[i+1]})
		}
		return r
	}
	tests := []struct {
		name string
		ref  v1alpha1.ResolverRef
		want string
		ok   bool
	}{
		{"push-to-registry", ref("catalog", "name", "push-to-registry"), PipelinePushToRegistry, true},
		{"publish-static", ref("catalog", "kind", "pipeline", "name", "publish-static"), PipelinePublishStatic, true},
		{"catalog, other pipeline", ref("catalog", "name", "go"), "", false},
		{"catalog, no name", ref("catalog"), "", false},
		{"catalog, value under another param", ref("catalog", "pipeline", "push-to-registry"), "", false},
		{"git resolver with the same name", ref("git", "name", "push-to-registry"), "", false},
		{"bundles resolver", ref("bundles", "name", "publish-static"), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := Builtin(tt.ref)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Builtin(%+v) = (%q, %v), want (%q, %v)", tt.ref, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestDecodeData(t *testing.T) {
	t.Parallel()
	data := MergeData(map[string]any{
		"mapping": map[string]any{
			"components": []any{map[string]any{"name": "api", "repository": "quay.io/team/api-server", "tags": []any{"stable"}}},
			"defaults":   map[string]any{"repository": "quay.io/team/{{ component }}", "tags": []any{"latest"}},
		},
		"registry":  map[string]any{"secret": "quay-push", "plainHTTP": true},
		"signing":   map[string]any{"secret": "release-key"},
		"static":    map[string]any{"path": "repo/el9"},
		"unrelated": "ignored",
	})
	d, err := decodeData(data)
	if err != nil {
		t.Fatal(err)
	}
	want := PushData{}
	want.Mapping.Components = []MappedComponent{{Name: "api", Repository: "quay.io/team/api-server", Tags: []string{"stable"}}}
	want.Mapping.Defaults = MappedComponent{Repository: "quay.io/team/{{ component }}", Tags: []string{"latest"}}
	want.Registry.Secret, want.Registry.PlainHTTP = "quay-push", true
	want.Signing.Secret = "release-key"
	want.Static.Path = "repo/el9"
	if !reflect.DeepEqual(d, want) {
		t.Errorf("decodeData =\n %+v\nwant\n %+v", d, want)
	}
}

func TestDecodeDataErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data map[string]any
	}{
		{"mapping is a string", map[string]any{"mapping": "quay.io/team"}},
		{"tags is a string", map[string]any{"mapping": map[string]any{"defaults": map[string]any{"tags": "latest"}}}},
		{"plainHTTP is a string", map[string]any{"registry": map[string]any{"plainHTTP": "yes"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := decodeData(tt.data)
			if err == nil || !strings.Contains(err.Error(), "release data:") || !strings.Contains(err.Error(), "docs/releases.md") {
				t.Errorf("err = %v, want a release data error pointing at docs/releases.md", err)
			}
		})
	}
}

func TestDestination(t *testing.T) {
	t.Parallel()
	sha := "0123456789abcdef0123456789abcdef01234567"
	digest := "sha256:" + strings.Repeat("e", 64)
	vars := func(comp string) publish.TagVars {
		return publish.TagVars{Component: comp, GitSHA: sha, Digest: digest, BuildCounter: 42}
	}
	mapping := func(defaults MappedComponent, comps ...MappedComponent) PushData {
		var d PushData
		d.Mapping.Defaults, d.Mapping.Components = defaults, comps
		return d
	}
	tests := []struct {
		name     string
		data     PushData
		comp     string
		vars     publish.TagVars
		repo     string
		tags     []string
		wantErrs []string
	}{
		{
			name: "defaults with {{ component }}",
			data: mapping(MappedComponent{Repository: "quay.io/team/{{ component }}", Tags: []string{"latest"}}),
			comp: "web", vars: vars("web"),
			repo: "quay.io/team/web", tags: []string{"latest"},
		},
		{
			name: "{{component}} without spaces and used twice",
			data: mapping(MappedComponent{Repository: "quay.io/{{component}}/{{  component }}", Tags: []string{"latest"}}),
			comp: "web", vars: vars("web"),
			repo: "quay.io/web/web", tags: []string{"latest"},
		},
		{
			name: "component mapping overrides repository and tags",
			data: mapping(MappedComponent{Repository: "quay.io/team/{{ component }}", Tags: []string{"latest"}},
				MappedComponent{Name: "api", Repository: "quay.io/other/api-server", Tags: []string{"stable"}}),
			comp: "api", vars: vars("api"),
			repo: "quay.io/other/api-server", tags: []string{"stable"},
		},
		{
			name: "component mapping without tags keeps the default tags",
			data: mapping(MappedComponent{Repository: "quay.io/team/{{ component }}", Tags: []string{"latest"}},
				MappedComponent{Name: "api", Repository: "quay.io/other/api"}),
			comp: "api", vars: vars("api"),
			repo: "quay.io/other/api", tags: []string{"latest"},
		},
		{
			name: "component mapping without repository keeps the default repository",
			data: mapping(MappedComponent{Repository: "quay.io/team/{{ component }}", Tags: []string{"latest"}},
				MappedComponent{Name: "api", Tags: []string{"v{{ build_counter }}"}}),
			comp: "api", vars: vars("api"),
			repo: "quay.io/team/api", tags: []string{"v42"},
		},
		{
			name: "another component's mapping does not apply",
			data: mapping(MappedComponent{Repository: "quay.io/team/{{ component }}"},
				MappedComponent{Name: "api", Repository: "quay.io/other/api", Tags: []string{"stable"}}),
			comp: "web", vars: vars("web"),
			repo: "quay.io/team/web", tags: []string{},
		},
		{
			name: "tag templates are expanded",
			data: mapping(MappedComponent{Repository: "quay.io/team/{{ component }}", Tags: []string{
				"latest", "{{ git_sha }}", "{{ git_short_sha }}", "{{ build_counter }}", "{{ component }}-{{ digest_sha }}", "latest",
			}}),
			comp: "web", vars: vars("web"),
			repo: "quay.io/team/web",
			tags: []string{"latest", sha, "0123456", "42", "web-" + strings.Repeat("e", 64)},
		},
		{
			name: "missing repository",
			data: mapping(MappedComponent{Tags: []string{"latest"}}, MappedComponent{Name: "api", Repository: "quay.io/other/api"}),
			comp: "web", vars: vars("web"),
			wantErrs: []string{"component web: no repository", "data.mapping"},
		},
		{
			name: "unknown variable in repository",
			data: mapping(MappedComponent{Repository: "quay.io/{{ team }}/{{ component }}"}),
			comp: "web", vars: vars("web"),
			wantErrs: []string{"component web", `repository "quay.io/{{ team }}/{{ component }}"`, "only {{ component }}"},
		},
		{
			name: "unknown variable in a tag",
			data: mapping(MappedComponent{Repository: "quay.io/team/web", Tags: []string{"{{ branch }}"}}),
			comp: "web", vars: vars("web"),
			wantErrs: []string{"component web", `"branch"`},
		},
		{
			name: "tag variable without a value",
			data: mapping(MappedComponent{Repository: "quay.io/team/web", Tags: []string{"v{{ version }}"}}),
			comp: "web", vars: vars("web"),
			wantErrs: []string{"component web", "version"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			repo, tags, err := tt.data.destination(tt.comp, tt.vars)
			if tt.wantErrs != nil {
				if err == nil {
					t.Fatalf("destination = (%q, %v), want an error", repo, tags)
				}
				for _, w := range tt.wantErrs {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("err = %q, want it to contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if repo != tt.repo || !reflect.DeepEqual(tags, tt.tags) {
				t.Errorf("destination = (%q, %q), want (%q, %q)", repo, tags, tt.repo, tt.tags)
			}
		})
	}
}

func TestBuildNumbers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		annotations map[string]string
		want        map[string]int64
	}{
		{"set", map[string]string{v1alpha1.AnnotationBuildNumbers: `{"api":12,"web":3}`}, map[string]int64{"api": 12, "web": 3}},
		{"no annotations", nil, map[string]int64{}},
		{"empty object", map[string]string{v1alpha1.AnnotationBuildNumbers: `{}`}, map[string]int64{}},
		{"not JSON", map[string]string{v1alpha1.AnnotationBuildNumbers: `api=12`}, map[string]int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &v1alpha1.Snapshot{}
			s.Annotations = tt.annotations
			got := buildNumbers(s)
			if got == nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("buildNumbers = %#v, want %#v", got, tt.want)
			}
		})
	}
}
