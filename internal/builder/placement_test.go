package builder

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/internal/executor"
)

// placeGate is a gate that marks the builds placed on remote workers.
type placeGate struct{ *gateExecutor }

func (g placeGate) Execute(ctx context.Context, job executor.Job) (executor.Outcome, error) {
	if job.Remote != nil {
		job.Build.Name += "@remote"
	}
	return g.gateExecutor.Execute(ctx, job)
}

// noRemote is a remote pool the gate never calls.
type noRemote struct{}

func (noRemote) RunRemote(context.Context, executor.Job, executor.RemoteTask) (executor.RemoteReport, error) {
	return executor.RemoteReport{}, nil
}

// Remote workers' capacity joins the local slots under one fair share: a
// build runs here while a local slot is free, then on workers as their
// capacity allows, and the namespace with the fewest running builds gets
// each new slot, local or remote.
func TestRemoteCapacityJoinsTheFairShare(t *testing.T) {
	t.Parallel()
	g := placeGate{newGate()}
	e, c := tenantEnv(t, &Controllers{Executor: g, Workers: 1, Remote: noRemote{}}, nil)
	e.builds(t, "a", 1, 4)
	if got := g.next(t); nsOf(got) != "a" || strings.HasSuffix(got, "@remote") {
		t.Fatalf("first build %s, want one of a's on the local slot", got)
	}
	c.waitWaiting(t, 3) // no worker yet: the rest wait
	e.builds(t, "b", 1, 2)
	c.waitWaiting(t, 5)
	c.SetRemoteCapacity(2)
	got := []string{g.next(t), g.next(t)}
	slices.Sort(got)
	if nsOf(got[0]) != "a" || nsOf(got[1]) != "b" || !strings.HasSuffix(got[0], "@remote") || !strings.HasSuffix(got[1], "@remote") {
		t.Fatalf("with two remote slots %v started, want one of a's and one of b's, both on workers", got)
	}
	c.waitWaiting(t, 3)
	g.release <- struct{}{} // one build ends; which one is the gate's choice
	next := g.next(t)
	if nsOf(next) != "b" {
		t.Fatalf("after a slot freed, %s started; want b's (a and b run one each, b was served first)", next)
	}
	c.waitWaiting(t, 2)
}

// A queue without capacity admits nothing until it gets some.
func TestFairQueueGlobalCanChange(t *testing.T) {
	t.Parallel()
	q := newFairQueue(1, 0)
	q.SetGlobal(0)
	q.Push(waitingBuild{Key: key("a", "1")})
	if _, ok := q.Next(); ok {
		t.Fatal("a queue of capacity 0 admitted a build")
	}
	q.SetGlobal(1)
	if k, ok := q.Next(); !ok || k != key("a", "1") {
		t.Fatalf("Next = %v, %v after capacity came", k, ok)
	}
}
