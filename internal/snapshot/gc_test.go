package snapshot

import (
	"reflect"
	"sort"
	"strconv"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

var gcNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// snap is a Snapshot named s<seq>, created age before gcNow.
func snap(seq int64, age time.Duration, opts ...func(*v1alpha1.Snapshot)) *v1alpha1.Snapshot {
	s := &v1alpha1.Snapshot{}
	s.Name = "s" + strconv.FormatInt(seq, 10)
	s.Labels = map[string]string{v1alpha1.LabelSequence: strconv.FormatInt(seq, 10)}
	s.CreationTimestamp = metav1.NewTime(gcNow.Add(-age))
	for _, o := range opts {
		o(s)
	}
	return s
}

func pinned(v string) func(*v1alpha1.Snapshot) {
	return func(s *v1alpha1.Snapshot) { s.Labels[v1alpha1.LabelPinned] = v }
}

func withTests(states ...string) func(*v1alpha1.Snapshot) {
	return func(s *v1alpha1.Snapshot) {
		for i, st := range states {
			s.Status.Tests = append(s.Status.Tests, v1alpha1.SnapshotTest{Scenario: "t" + strconv.Itoa(i), State: st})
		}
	}
}

func TestCollectable(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	cases := []struct {
		name     string
		snaps    []*v1alpha1.Snapshot
		released map[string]bool
		keep     int
		minAge   time.Duration
		want     []string
	}{
		{
			name:  "keeps the newest by sequence, not by list order",
			snaps: []*v1alpha1.Snapshot{snap(3, day), snap(5, day), snap(1, day), snap(4, day), snap(2, day)},
			keep:  2, minAge: time.Hour,
			want: []string{"s1", "s2", "s3"},
		},
		{
			name:  "keep larger than the list collects nothing",
			snaps: []*v1alpha1.Snapshot{snap(1, day), snap(2, day)},
			keep:  5, minAge: time.Hour,
		},
		{
			name:  "keep zero collects every old snapshot",
			snaps: []*v1alpha1.Snapshot{snap(1, day), snap(2, day)},
			keep:  0, minAge: time.Hour,
			want: []string{"s1", "s2"},
		},
		{
			name:  "pinned true is never collected",
			snaps: []*v1alpha1.Snapshot{snap(1, day, pinned("true")), snap(2, day), snap(3, day)},
			keep:  1, minAge: time.Hour,
			want: []string{"s2"},
		},
		{
			name:  "pinned other than true does not protect",
			snaps: []*v1alpha1.Snapshot{snap(1, day, pinned("false")), snap(2, day, pinned("yes")), snap(3, day)},
			keep:  1, minAge: time.Hour,
			want: []string{"s1", "s2"},
		},
		{
			name:     "referenced by a release is never collected",
			snaps:    []*v1alpha1.Snapshot{snap(1, day), snap(2, day), snap(3, day)},
			released: map[string]bool{"s1": true},
			keep:     1, minAge: time.Hour,
			want: []string{"s2"},
		},
		{
			name:  "younger than minAge is never collected",
			snaps: []*v1alpha1.Snapshot{snap(1, 30*time.Minute), snap(2, 2*time.Hour), snap(3, day)},
			keep:  1, minAge: time.Hour,
			want: []string{"s2"},
		},
		{
			name:  "exactly minAge old is collectable",
			snaps: []*v1alpha1.Snapshot{snap(1, time.Hour), snap(2, day)},
			keep:  1, minAge: time.Hour,
			want: []string{"s1"},
		},
		{
			name: "tests not finished keep the snapshot",
			snaps: []*v1alpha1.Snapshot{
				snap(1, day, withTests(v1alpha1.TestFinished, v1alpha1.TestRunning)),
				snap(2, day, withTests(v1alpha1.TestPending)),
				snap(3, day, withTests(v1alpha1.TestFinished, v1alpha1.TestFinished)),
				snap(4, day),
			},
			keep: 1, minAge: time.Hour,
			want: []string{"s3"},
		},
		{
			name:   "nothing at all",
			keep:   3,
			minAge: time.Hour,
		},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			order := make([]string, len(tt.snaps))
			for i, s := range tt.snaps {
				order[i] = s.Name
			}
			got := Collectable(tt.snaps, tt.released, tt.keep, tt.minAge, gcNow)
			sort.Strings(got)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Collectable = %v, want %v", got, tt.want)
			}
			for i, s := range tt.snaps {
				if s.Name != order[i] {
					t.Fatalf("Collectable reordered its input: %d is %s, was %s", i, s.Name, order[i])
				}
			}
		})
	}
}
