package snapshot

import (
	"reflect"
	"strings"
	"testing"

	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

const (
	digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func cand(comp, build string, n int64) v1alpha1.Candidate {
	return v1alpha1.Candidate{Component: comp, ContainerImage: "reg/" + comp + "@" + build, Build: build, BuildNumber: n}
}

func art(comp, build string, n int64) Artifact {
	return Artifact{Component: comp, Image: "reg/" + comp + "@" + build, Build: build, BuildNumber: n}
}

func appWith(seq int64, cands ...v1alpha1.Candidate) *v1alpha1.Application {
	a := &v1alpha1.Application{}
	a.Name = "shop"
	a.Status.SnapshotSequence = seq
	a.Status.Candidates = cands
	return a
}

func comp(name, build string) v1alpha1.SnapshotComponent {
	return v1alpha1.SnapshotComponent{Name: name, ContainerImage: "reg/" + name + "@" + build}
}

func TestNext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		app        *v1alpha1.Application
		change     Change
		candidates []v1alpha1.Candidate
		snapshot   *v1alpha1.SnapshotSpec
		sequence   int64
		numbers    map[string]int64
	}{
		{
			name:       "first build of an application",
			app:        appWith(0),
			change:     Change{Application: "shop", Artifacts: []Artifact{art("api", "api-1", 1)}},
			candidates: []v1alpha1.Candidate{cand("api", "api-1", 1)},
			snapshot:   &v1alpha1.SnapshotSpec{Application: "shop", Components: []v1alpha1.SnapshotComponent{comp("api", "api-1")}},
			sequence:   1,
			numbers:    map[string]int64{"api": 1},
		},
		{
			name:       "new component is inserted in sorted order",
			app:        appWith(4, cand("api", "api-3", 3), cand("web", "web-2", 2)),
			change:     Change{Application: "shop", Artifacts: []Artifact{art("cart", "cart-1", 1)}},
			candidates: []v1alpha1.Candidate{cand("api", "api-3", 3), cand("cart", "cart-1", 1), cand("web", "web-2", 2)},
			snapshot: &v1alpha1.SnapshotSpec{Application: "shop", Components: []v1alpha1.SnapshotComponent{
				comp("api", "api-3"), comp("cart", "cart-1"), comp("web", "web-2")}},
			sequence: 5,
			numbers:  map[string]int64{"api": 3, "cart": 1, "web": 2},
		},
		{
			name:       "newer build replaces the candidate",
			app:        appWith(7, cand("api", "api-3", 3), cand("web", "web-2", 2)),
			change:     Change{Application: "shop", Artifacts: []Artifact{art("web", "web-5", 5)}},
			candidates: []v1alpha1.Candidate{cand("api", "api-3", 3), cand("web", "web-5", 5)},
			snapshot: &v1alpha1.SnapshotSpec{Application: "shop", Components: []v1alpha1.SnapshotComponent{
				comp("api", "api-3"), comp("web", "web-5")}},
			sequence: 8,
			numbers:  map[string]int64{"api": 3, "web": 5},
		},
		{
			name:   "older build never replaces the candidate but its snapshot holds its own artifact",
			app:    appWith(2, cand("api", "api-3", 3), cand("web", "web-9", 9)),
			change: Change{Application: "shop", Artifacts: []Artifact{art("web", "web-4", 4)}},
			// candidates unchanged: nil
			snapshot: &v1alpha1.SnapshotSpec{Application: "shop", Components: []v1alpha1.SnapshotComponent{
				comp("api", "api-3"), comp("web", "web-4")}},
			sequence: 3,
			numbers:  map[string]int64{"api": 3, "web": 4},
		},
		{
			name:   "equal build number never replaces the candidate",
			app:    appWith(2, cand("web", "web-9", 9)),
			change: Change{Application: "shop", Artifacts: []Artifact{art("web", "web-9-retry", 9)}},
			snapshot: &v1alpha1.SnapshotSpec{Application: "shop", Components: []v1alpha1.SnapshotComponent{
				comp("web", "web-9-retry")}},
			sequence: 3,
			numbers:  map[string]int64{"web": 9},
		},
		{
			name:   "pull request leaves the candidates alone but yields a snapshot",
			app:    appWith(10, cand("api", "api-3", 3), cand("web", "web-2", 2)),
			change: Change{Application: "shop", PullRequest: true, Artifacts: []Artifact{art("web", "web-pr", 6)}},
			snapshot: &v1alpha1.SnapshotSpec{Application: "shop", Components: []v1alpha1.SnapshotComponent{
				comp("api", "api-3"), comp("web", "web-pr")}},
			sequence: 11,
			numbers:  map[string]int64{"api": 3, "web": 6},
		},
		{
			name:       "unchanged output refreshes candidates without a snapshot",
			app:        appWith(3, cand("api", "api-3", 3)),
			change:     Change{Application: "shop", Unchanged: true, Artifacts: []Artifact{art("api", "api-4", 4)}},
			candidates: []v1alpha1.Candidate{cand("api", "api-4", 4)},
		},
		{
			name:   "no artifacts: nothing at all",
			app:    appWith(3, cand("api", "api-3", 3)),
			change: Change{Application: "shop", Type: v1alpha1.SnapshotTypeGroup},
		},
		{
			name: "group change with several artifacts",
			app:  appWith(20, cand("api", "api-3", 3), cand("db", "db-8", 8), cand("web", "web-2", 2)),
			change: Change{Application: "shop", Type: v1alpha1.SnapshotTypeGroup, Artifacts: []Artifact{
				art("web", "web-3", 3), art("api", "api-4", 4), art("cart", "cart-1", 1)}},
			candidates: []v1alpha1.Candidate{cand("api", "api-4", 4), cand("cart", "cart-1", 1), cand("db", "db-8", 8), cand("web", "web-3", 3)},
			snapshot: &v1alpha1.SnapshotSpec{Application: "shop", Components: []v1alpha1.SnapshotComponent{
				comp("api", "api-4"), comp("cart", "cart-1"), comp("db", "db-8"), comp("web", "web-3")}},
			sequence: 21,
			numbers:  map[string]int64{"api": 4, "cart": 1, "db": 8, "web": 3},
		},
		{
			name: "group change where one artifact is older than its candidate",
			app:  appWith(1, cand("api", "api-9", 9), cand("web", "web-2", 2)),
			change: Change{Application: "shop", Type: v1alpha1.SnapshotTypeGroup, Artifacts: []Artifact{
				art("api", "api-5", 5), art("web", "web-3", 3)}},
			candidates: []v1alpha1.Candidate{cand("api", "api-9", 9), cand("web", "web-3", 3)},
			snapshot: &v1alpha1.SnapshotSpec{Application: "shop", Components: []v1alpha1.SnapshotComponent{
				comp("api", "api-5"), comp("web", "web-3")}},
			sequence: 2,
			numbers:  map[string]int64{"api": 5, "web": 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			before := append([]v1alpha1.Candidate(nil), tt.app.Status.Candidates...)
			d := Next(tt.app, tt.change)
			if !reflect.DeepEqual(d.Candidates, tt.candidates) {
				t.Errorf("Candidates:\n got %+v\nwant %+v", d.Candidates, tt.candidates)
			}
			if !reflect.DeepEqual(d.Snapshot, tt.snapshot) {
				t.Errorf("Snapshot:\n got %+v\nwant %+v", d.Snapshot, tt.snapshot)
			}
			if d.Sequence != tt.sequence {
				t.Errorf("Sequence = %d, want %d", d.Sequence, tt.sequence)
			}
			if !reflect.DeepEqual(d.BuildNumbers, tt.numbers) {
				t.Errorf("BuildNumbers = %v, want %v", d.BuildNumbers, tt.numbers)
			}
			if !reflect.DeepEqual(tt.app.Status.Candidates, before) {
				t.Errorf("Next changed the application's candidates: %+v, was %+v", tt.app.Status.Candidates, before)
			}
		})
	}
}

func TestNextKeepsSource(t *testing.T) {
	t.Parallel()
	src := &v1alpha1.SnapshotSource{Git: &v1alpha1.SnapshotGitSource{URL: "https://git.example.com/api", Revision: strings.Repeat("c", 40)}}
	a := art("api", "api-2", 2)
	a.Source = src
	d := Next(appWith(0), Change{Application: "shop", Artifacts: []Artifact{a}})
	if len(d.Candidates) != 1 || d.Candidates[0].Source != src {
		t.Errorf("candidate source = %+v, want %+v", d.Candidates, src)
	}
	if d.Snapshot == nil || len(d.Snapshot.Components) != 1 || d.Snapshot.Components[0].Source != src {
		t.Errorf("snapshot = %+v, want the artifact's source", d.Snapshot)
	}
}

func TestName(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("b", 260)
	tests := []struct {
		name, app, origin, want string
	}{
		{"short", "shop", "api-7", "shop-api-7"},
		{"origin already names the application", "shop", "shop-batch-0a1b2c", "shop-batch-0a1b2c"},
		{"exactly 253", "shop", strings.Repeat("x", 248), "shop-" + strings.Repeat("x", 248)},
		{"too long keeps the head and a hash of the whole", "shop", long, v1alpha1.FitName("shop-" + long)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Name(tt.app, tt.origin)
			if got != tt.want {
				t.Errorf("Name(%q, %q) = %q (len %d), want %q (len %d)", tt.app, tt.origin, got, len(got), tt.want, len(tt.want))
			}
			if errs := validation.IsDNS1123Subdomain(got); len(errs) > 0 {
				t.Errorf("Name(%q, %q) = %q is not a valid object name: %v", tt.app, tt.origin, got, errs)
			}
		})
	}
	// Long origins that differ only at the start (where a tail cut would
	// drop the difference) get different names.
	a, b := Name("shop", "a"+strings.Repeat("x", 300)), Name("shop", "b"+strings.Repeat("x", 300))
	if a == b || len(a) > 253 || !strings.HasPrefix(a, "shop-ax") {
		t.Errorf("long origins: %q and %q", a, b)
	}
}

func TestNameIsDeterministic(t *testing.T) {
	t.Parallel()
	if a, b := Name("shop", "api-1"), Name("shop", "api-1"); a != b {
		t.Errorf("Name differs between calls: %q, %q", a, b)
	}
	if a, b := Name("shop", "api-1"), Name("shop", "api-2"); a == b {
		t.Errorf("different origins give the same name %q", a)
	}
}

func TestLabels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name              string
		typ, event, origi string
		seq               int64
		want              map[string]string
	}{
		{
			name: "component push", typ: v1alpha1.SnapshotTypeComponent, event: v1alpha1.EventPush, origi: "api-7", seq: 12,
			want: map[string]string{
				v1alpha1.LabelSnapshotType: "component", v1alpha1.LabelEventType: "push",
				v1alpha1.LabelSequence: "12", v1alpha1.LabelBuild: "api-7",
			},
		},
		{
			name: "component pull request", typ: v1alpha1.SnapshotTypeComponent, event: v1alpha1.EventPullRequest, origi: "api-pr-3", seq: 1,
			want: map[string]string{
				v1alpha1.LabelSnapshotType: "component", v1alpha1.LabelEventType: "pull_request",
				v1alpha1.LabelSequence: "1", v1alpha1.LabelBuild: "api-pr-3",
			},
		},
		{
			name: "group", typ: v1alpha1.SnapshotTypeGroup, event: v1alpha1.EventPush, origi: "nightly-4", seq: 9000000000,
			want: map[string]string{
				v1alpha1.LabelSnapshotType: "group", v1alpha1.LabelEventType: "push",
				v1alpha1.LabelSequence: "9000000000", v1alpha1.LabelBuildGroup: "nightly-4",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Labels(tt.typ, tt.event, tt.origi, tt.seq)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Labels = %v, want %v", got, tt.want)
			}
			s := &v1alpha1.Snapshot{}
			s.Labels = got
			if s.Sequence() != tt.seq {
				t.Errorf("Sequence() of the labelled snapshot = %d, want %d", s.Sequence(), tt.seq)
			}
		})
	}
}

func TestArtifactOf(t *testing.T) {
	t.Parallel()
	commit := strings.Repeat("d", 40)
	build := func(artifact *v1alpha1.BuildArtifact, commit string) *v1alpha1.Build {
		b := &v1alpha1.Build{}
		b.Name = "api-42"
		b.Spec.Component = "api"
		b.Status.BuildNumber = 42
		b.Status.Commit = commit
		b.Status.Artifact = artifact
		return b
	}
	pushed := &v1alpha1.BuildArtifact{Repository: "127.0.0.1:7070/team/api", Digest: digestA}
	tests := []struct {
		name    string
		build   *v1alpha1.Build
		url     string
		want    Artifact
		wantErr string
	}{
		{
			name: "with source", build: build(pushed, commit), url: "https://git.example.com/api",
			want: Artifact{Component: "api", Image: "127.0.0.1:7070/team/api@" + digestA, Build: "api-42", BuildNumber: 42,
				Source: &v1alpha1.SnapshotSource{Git: &v1alpha1.SnapshotGitSource{URL: "https://git.example.com/api", Revision: commit}}},
		},
		{
			name: "no url: no source", build: build(pushed, commit),
			want: Artifact{Component: "api", Image: "127.0.0.1:7070/team/api@" + digestA, Build: "api-42", BuildNumber: 42},
		},
		{
			name: "no commit: no source", build: build(pushed, ""), url: "https://git.example.com/api",
			want: Artifact{Component: "api", Image: "127.0.0.1:7070/team/api@" + digestA, Build: "api-42", BuildNumber: 42},
		},
		{name: "no artifact", build: build(nil, commit), url: "https://git.example.com/api", wantErr: "build api-42 has no artifact"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ArtifactOf(tt.build, tt.url)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ArtifactOf =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

// TestLabelsAreValidForLongOrigins: Build and BuildGroup names may be up to
// 253 characters, but label values at most 63, so Labels must not copy a
// long origin verbatim or the Snapshot's creation is rejected.
func TestLabelsAreValidForLongOrigins(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{v1alpha1.SnapshotTypeComponent, v1alpha1.SnapshotTypeGroup} {
		l := Labels(typ, v1alpha1.EventPush, strings.Repeat("b", 64), 1)
		if errs := metav1validation.ValidateLabels(l, field.NewPath("metadata", "labels")); len(errs) > 0 {
			t.Errorf("%s: Labels = %v: %v", typ, l, errs)
		}
	}
}
