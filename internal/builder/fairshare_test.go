package builder

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/controller"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func key(ns, name string) controller.Request { return controller.Request{Namespace: ns, Name: name} }

// pushN queues n builds ns/<ns>-1.. with increasing queue times.
func pushN(q *fairQueue, ns string, from, n int) {
	for i := from; i < from+n; i++ {
		q.Push(waitingBuild{Key: key(ns, fmt.Sprintf("%s-%d", ns, i)), Queued: t0.Add(time.Duration(i) * time.Second)})
	}
}

// admit calls Next until it refuses and returns the admitted names.
func admit(q *fairQueue) []string {
	var out []string
	for {
		k, ok := q.Next()
		if !ok {
			return out
		}
		out = append(out, k.Name)
	}
}

func wantAdmitted(t *testing.T, q *fairQueue, want ...string) {
	t.Helper()
	if got := admit(q); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("admitted %q, want %q", got, want)
	}
}

func TestFairQueueLateTenantGetsTheNextFreeSlot(t *testing.T) {
	t.Parallel()
	q := newFairQueue(2, 0)
	pushN(q, "a", 1, 50)
	wantAdmitted(t, q, "a-1", "a-2")
	q.Push(waitingBuild{Key: key("b", "b-1"), Queued: t0.Add(time.Hour)})
	wantAdmitted(t, q) // no free slot
	q.Done(key("a", "a-1"))
	wantAdmitted(t, q, "b-1")
	q.Done(key("a", "a-2"))
	wantAdmitted(t, q, "a-3")
	if q.Waiting() != 47 {
		t.Fatalf("waiting %d, want 47", q.Waiting())
	}
}

func TestFairQueueOneWorkerAlternatesTenants(t *testing.T) {
	t.Parallel()
	q := newFairQueue(1, 0)
	pushN(q, "a", 1, 1)
	wantAdmitted(t, q, "a-1")
	pushN(q, "a", 2, 49)
	pushN(q, "b", 1, 3)
	pushN(q, "c", 1, 1)
	var order []string
	last := key("a", "a-1")
	for range 9 {
		q.Done(last)
		k, ok := q.Next()
		if !ok {
			t.Fatalf("nothing admitted after %v", order)
		}
		order = append(order, k.Name)
		last = k
	}
	// b and c were never served: b first (its build arrived first), then
	// the least recently served namespace each time.
	want := "b-1 c-1 a-2 b-2 a-3 b-3 a-4 a-5 a-6"
	if got := strings.Join(order, " "); got != want {
		t.Fatalf("order %s, want %s", got, want)
	}
}

func TestFairQueueNamespaceLimitLeavesASlotForOthers(t *testing.T) {
	t.Parallel()
	q := newFairQueue(2, 1)
	pushN(q, "a", 1, 3)
	wantAdmitted(t, q, "a-1") // a is at its limit; the second slot stays free
	pushN(q, "b", 1, 2)
	wantAdmitted(t, q, "b-1")
	q.Done(key("a", "a-1"))
	wantAdmitted(t, q, "a-2")
	q.Done(key("b", "b-1"))
	wantAdmitted(t, q, "b-2")
}

func TestFairQueueOwnLimitOverridesDefault(t *testing.T) {
	t.Parallel()
	q := newFairQueue(4, 0)
	q.SetLimit("a", 2)
	pushN(q, "a", 1, 5)
	wantAdmitted(t, q, "a-1", "a-2")
	q.SetLimit("a", 0) // back to the default: only the global limit
	wantAdmitted(t, q, "a-3", "a-4")
}

func TestFairQueuePriorityThenFIFOWithinANamespace(t *testing.T) {
	t.Parallel()
	q := newFairQueue(1, 0)
	push := func(name string, prio float64, queued time.Duration) {
		q.Push(waitingBuild{Key: key("a", name), Priority: prio, Queued: t0.Add(queued)})
	}
	push("plain-early", 0, 0)
	push("low", 10, 3*time.Second)
	push("high-late", 42, 5*time.Second)
	push("high-early", 42, 1*time.Second)
	push("plain-late", 0, 9*time.Second)
	push("plain-late-2", 0, 9*time.Second) // same queue time: arrival order
	var order []string
	for range 6 {
		k, ok := q.Next()
		if !ok {
			t.Fatalf("nothing admitted after %v", order)
		}
		order = append(order, k.Name)
		q.Done(k)
	}
	want := "high-early high-late low plain-early plain-late plain-late-2"
	if got := strings.Join(order, " "); got != want {
		t.Fatalf("order %s, want %s", got, want)
	}
	// Pushing a waiting build again updates its priority.
	push("x", 0, 0)
	push("y", 0, 0)
	push("y", 1, 0)
	wantAdmitted(t, q, "y")
}

func TestFairQueueBuildsRunningInTheStoreCount(t *testing.T) {
	t.Parallel()
	q := newFairQueue(2, 1)
	q.Running(key("a", "left-running")) // a previous process's build
	pushN(q, "a", 1, 1)
	pushN(q, "b", 1, 2)
	wantAdmitted(t, q, "b-1") // a is at its limit, and 2 run
	// The scheduler re-queues the interrupted build: it waits again, first
	// in its namespace (queued earliest).
	q.Push(waitingBuild{Key: key("a", "left-running"), Queued: t0})
	q.Done(key("b", "b-1"))
	wantAdmitted(t, q, "left-running", "b-2")
	// Remove does not free a slot admitted here; Done does.
	q.Remove(key("a", "left-running"))
	wantAdmitted(t, q)
	q.Done(key("a", "left-running"))
	wantAdmitted(t, q, "a-1")
	// A waiting build seen Running (started elsewhere) stops waiting and
	// counts until Remove.
	pushN(q, "b", 3, 2)
	q.Running(key("b", "b-3"))
	if q.Waiting() != 1 || q.Admitted(key("b", "b-3")) || q.spaces["b"].running != 2 {
		t.Fatalf("waiting %d, b running %d", q.Waiting(), q.spaces["b"].running)
	}
	q.Done(key("b", "b-2"))
	wantAdmitted(t, q) // b is still at its limit: b-3 runs
	q.Remove(key("b", "b-3"))
	wantAdmitted(t, q, "b-4")
}

func TestFairQueuePushOfAnAdmittedBuildIsIgnored(t *testing.T) {
	t.Parallel()
	q := newFairQueue(2, 0)
	pushN(q, "a", 1, 1)
	wantAdmitted(t, q, "a-1")
	pushN(q, "a", 1, 1) // a late event for the same build
	if q.Waiting() != 0 || !q.Admitted(key("a", "a-1")) {
		t.Fatalf("waiting %d after re-push of an admitted build", q.Waiting())
	}
	q.Done(key("a", "a-1"))
	q.Done(key("a", "a-1")) // twice is harmless
	if q.Admitted(key("a", "a-1")) || q.spaces["a"].running != 0 {
		t.Fatalf("running %d after Done", q.spaces["a"].running)
	}
}

func TestNamespaceLimitAnnotation(t *testing.T) {
	t.Parallel()
	ns := func(v string) *v1alpha1.Namespace {
		n := &v1alpha1.Namespace{}
		if v != "" {
			n.Annotations = map[string]string{AnnotationMaxConcurrentBuilds: v}
		}
		return n
	}
	for _, c := range []struct {
		value   string
		def     int
		want    int
		wantErr bool
	}{
		{"", 0, 0, false},
		{"3", 0, 3, false},
		{"1", 4, 1, false},
		{"8", 4, 0, false}, // may not raise the server's limit
		{"0", 4, 0, true},
		{"two", 0, 0, true},
	} {
		got, err := namespaceLimit(ns(c.value), c.def)
		if got != c.want || (err != nil) != c.wantErr {
			t.Errorf("namespaceLimit(%q, %d) = %d, %v; want %d, error %v", c.value, c.def, got, err, c.want, c.wantErr)
		}
	}
}

func TestGroupPriorityOfABuild(t *testing.T) {
	t.Parallel()
	g := &v1alpha1.BuildGroup{Status: v1alpha1.BuildGroupStatus{Members: []v1alpha1.GroupMember{
		{Component: "lib", Priority: 42, Build: "g-lib-2", Builds: []string{"g-lib-1", "g-lib-2"}},
		{Component: "app", Priority: 2, Build: "g-app-1"},
	}}}
	for build, want := range map[string]float64{"g-lib-1": 42, "g-lib-2": 42, "g-app-1": 2, "other": 0} {
		if got := groupPriority(g, build, ""); got != want {
			t.Errorf("priority of %s = %v, want %v", build, got, want)
		}
	}
	// Admission sees a new build before the group's status names it.
	g.Status.Members = append(g.Status.Members, v1alpha1.GroupMember{Component: "big", Priority: 900})
	if got := groupPriority(g, "g-big-1", "big"); got != 900 {
		t.Errorf("priority of a build the group does not name yet = %v, want its component's 900", got)
	}
}
