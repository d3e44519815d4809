package trigger

import (
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

// TestFollowerRecordsCommitsForTheLeader: a replica that does not lead
// never batches a commit (two replicas would batch the same commits into
// two groups): it records the commit as pending, and the batch happens
// where the replica leads.
func TestFollowerRecordsCommitsForTheLeader(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var flushed atomic.Int32
	var leading atomic.Bool
	tr := newCreator(e.reg, nil, slog.New(slog.DiscardHandler))
	tr.leading = leading.Load
	tr.batch = newBatcher(10*time.Millisecond, func(string, string, []pending) { flushed.Add(1) })
	commit := "3333333333333333333333333333333333333333"
	if err := tr.onCommit(t.Context(), "team", "lib", commit, "webhook:github"); err != nil {
		t.Fatal(err)
	}
	if got := e.component(t, "lib").PendingCommit; got != commit {
		t.Fatalf("pendingCommit = %q; want %q recorded for the leader", got, commit)
	}
	time.Sleep(50 * time.Millisecond) // five batch windows
	if n := flushed.Load(); n != 0 {
		t.Fatalf("a follower batched %d times", n)
	}
	leading.Store(true) // as the leader's first-build controller does on the pending commit
	if err := tr.onCommit(t.Context(), "team", "lib", commit, byPending); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for flushed.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if flushed.Load() != 1 {
		t.Fatal("the leader did not batch the pending commit")
	}
}
