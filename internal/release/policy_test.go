package release

import (
	"reflect"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/policy"
)

func TestSummarise(t *testing.T) {
	t.Parallel()
	pol := &v1alpha1.Policy{}
	pol.Name, pol.Namespace = "standard", "prod"
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	pass := func(code string) policy.Result { return policy.Result{Code: code, Msg: "Pass"} }

	tests := []struct {
		name    string
		verdict policy.Verdict
		want    v1alpha1.PolicyVerdict
	}{
		{
			name: "violations and warnings are counted over components",
			verdict: policy.Verdict{
				Success: false,
				Policy:  policy.PolicyRef{Name: "standard", Digest: "sha256:abc"},
				Components: []policy.ComponentResult{
					{
						Name: "api", Image: "reg/api@sha256:1",
						Violations: []policy.Result{{Code: "attestation.signature_valid", Msg: "no signature"}},
						Warnings:   []policy.Result{{Code: "sbom.present", Msg: "no SBOM", EffectiveOn: "2030-01-01T00:00:00Z"}},
						Successes:  []policy.Result{pass("a.b"), pass("c.d")},
					},
					{
						Name: "web", Image: "reg/web@sha256:2",
						Violations: []policy.Result{{Code: "x.one", Msg: "one"}, {Code: "x.two", Msg: "two"}},
						Successes:  []policy.Result{pass("a.b")},
					},
				},
			},
			want: v1alpha1.PolicyVerdict{
				Policy: "prod/standard", Digest: "sha256:abc", Passed: false,
				Violations: 3, Warnings: 1, Successes: 3,
				Components: []v1alpha1.ComponentVerdict{
					{
						Name: "api", ContainerImage: "reg/api@sha256:1", Successes: 2,
						Violations: []v1alpha1.PolicyResult{{Code: "attestation.signature_valid", Message: "no signature"}},
						Warnings:   []v1alpha1.PolicyResult{{Code: "sbom.present", Message: "no SBOM", EffectiveOn: "2030-01-01T00:00:00Z"}},
					},
					{
						Name: "web", ContainerImage: "reg/web@sha256:2", Successes: 1,
						Violations: []v1alpha1.PolicyResult{{Code: "x.one", Message: "one"}, {Code: "x.two", Message: "two"}},
					},
				},
			},
		},
		{
			name: "passed",
			verdict: policy.Verdict{
				Success: true,
				Policy:  policy.PolicyRef{Digest: "sha256:def"},
				Components: []policy.ComponentResult{
					{Name: "api", Image: "reg/api@sha256:1", Successes: []policy.Result{pass("a.b")}, Violations: []policy.Result{}},
				},
			},
			want: v1alpha1.PolicyVerdict{
				Policy: "prod/standard", Digest: "sha256:def", Passed: true, Successes: 1,
				Components: []v1alpha1.ComponentVerdict{{Name: "api", ContainerImage: "reg/api@sha256:1", Successes: 1}},
			},
		},
		{
			name:    "no components",
			verdict: policy.Verdict{Success: false},
			want:    v1alpha1.PolicyVerdict{Policy: "prod/standard"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := summarise(pol, tt.verdict, now)
			if got.EvaluatedTime == nil || !got.EvaluatedTime.Time.Equal(now) {
				t.Errorf("EvaluatedTime = %v, want %v", got.EvaluatedTime, now)
			}
			got.EvaluatedTime = nil
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("summarise =\n %+v\nwant\n %+v", *got, tt.want)
			}
		})
	}
}
