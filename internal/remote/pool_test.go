package remote

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/executor"
)

// heldPool is a pool with one build leased to worker w at generation 2.
func heldPool(log *bytes.Buffer, now *time.Time) (*Pool, buildKey) {
	p := &Pool{Now: func() time.Time { return *now }}
	p.init()
	k := buildKey{"team", "lib-1"}
	p.active[k] = &assignment{key: k, job: executor.Job{Log: log}, state: leased, worker: "w", gen: 2, expires: now.Add(time.Second)}
	return p, k
}

// Log chunks land once, in order: a retried chunk is skipped, an
// overlapping one adds only what is new, a gap is refused.
func TestAppendLogByOffset(t *testing.T) {
	t.Parallel()
	var log bytes.Buffer
	now := time.Now()
	p, k := heldPool(&log, &now)
	steps := []struct {
		offset int64
		chunk  string
		ok     bool
	}{{0, "hello ", true}, {0, "hello ", true}, {3, "lo wor", true}, {20, "gap", false}, {9, "ld\n", true}}
	for _, s := range steps {
		if err := p.appendLog("w", k, 2, s.offset, []byte(s.chunk)); (err == nil) != s.ok {
			t.Fatalf("chunk %q at %d: %v", s.chunk, s.offset, err)
		}
	}
	if log.String() != "hello world\n" {
		t.Fatalf("log %q", log.String())
	}
}

// Only the holder, at its generation, before the lease lapses, is heard.
func TestHeldFencesByWorkerGenerationAndExpiry(t *testing.T) {
	t.Parallel()
	var log bytes.Buffer
	now := time.Now()
	p, k := heldPool(&log, &now)
	if _, err := p.held("w", k, 2); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		worker string
		gen    int64
	}{{"other", 2}, {"w", 1}, {"w", 3}} {
		if _, err := p.held(c.worker, k, c.gen); !errors.Is(err, errNotHeld) {
			t.Errorf("held(%s, %d) = %v", c.worker, c.gen, err)
		}
	}
	now = now.Add(2 * time.Second)
	if _, err := p.held("w", k, 2); !errors.Is(err, errNotHeld) {
		t.Errorf("a lapsed lease is still held: %v", err)
	}
}

// A worker gets only builds of its platform, and no more than its capacity.
func TestNextMatchesPlatformAndCapacity(t *testing.T) {
	t.Parallel()
	now := time.Now()
	p := &Pool{Now: func() time.Time { return now }}
	p.init()
	arm := &assignment{platform: "linux/arm64"}
	amd1, amd2 := &assignment{platform: "linux/amd64"}, &assignment{platform: "linux/amd64"}
	p.queue = []*assignment{arm, amd1, amd2}
	p.heartbeat("w", LeaseRequest{Platform: "linux/amd64", Capacity: 1})
	if got := p.next("w", "linux/amd64"); got != amd1 {
		t.Fatalf("next = %+v, want the first amd64 build", got)
	}
	if got := p.next("w", "linux/amd64"); got != nil {
		t.Fatalf("a worker of capacity 1 got a second build: %+v", got)
	}
	if len(p.queue) != 2 || p.queue[0] != arm {
		t.Fatalf("queue %v", p.queue)
	}
}
