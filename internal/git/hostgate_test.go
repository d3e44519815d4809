package git

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestHostGateParksAHostBehindOneProbe(t *testing.T) {
	t.Parallel()
	now := t0
	g := &HostGate{now: func() time.Time { return now }}
	const a, b = "https://forge.example/a.git", "https://forge.example/b.git"
	down := errors.Join(ErrUnreachable, errors.New("could not resolve host"))
	for _, u := range []string{a, b} { // both in flight when the host fails
		if _, ok := g.Allow(u); !ok {
			t.Fatalf("%s refused while the host is up", u)
		}
	}
	g.Record(a, down)
	g.Record(b, down) // adds nothing: not a probe
	if wait, ok := g.Allow(b); ok || wait != firstHostBackoff {
		t.Fatalf("Allow after the failure: %v, %v; want refused for %v", wait, ok, firstHostBackoff)
	}
	if _, ok := g.Allow("/srv/local.git"); !ok {
		t.Error("a local repository was refused")
	}
	now = now.Add(firstHostBackoff)
	if _, ok := g.Allow(b); !ok {
		t.Fatal("no probe after the back-off")
	}
	if _, ok := g.Allow(a); ok {
		t.Fatal("a second call let through during the probe")
	}
	g.Record(b, down)
	if wait, _ := g.Allow(a); wait != 2*firstHostBackoff {
		t.Fatalf("wait after a failed probe: %v; want %v", wait, 2*firstHostBackoff)
	}
	now = now.Add(2 * firstHostBackoff)
	if _, ok := g.Allow(a); !ok {
		t.Fatal("no second probe")
	}
	g.Record(a, context.Canceled) // no news
	g.Record(a, ErrRepoNotFound)  // the host answered
	if _, ok := g.Allow(b); !ok {
		t.Error("host still refused after it answered")
	}
}
