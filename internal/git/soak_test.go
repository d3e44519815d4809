//go:build unix

package git

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestPollerSoakUnreachable runs a Poller over 100,000 watches on a host
// that cannot be resolved, with the real clock and git, and reports the CPU
// it uses (its own and its git children's) minute by minute. It takes a
// few minutes, so it runs only with KILN_POLLER_SOAK=1:
//
//	KILN_POLLER_SOAK=1 go test ./internal/git -run Soak -v -timeout 10m
//
// KILN_POLLER_SOAK_MINUTES sets how many minutes to measure (default 2).
func TestPollerSoakUnreachable(t *testing.T) {
	if os.Getenv("KILN_POLLER_SOAK") != "1" {
		t.Skip("set KILN_POLLER_SOAK=1 to run the poller soak test")
	}
	minutes := 2
	if v, err := strconv.Atoi(os.Getenv("KILN_POLLER_SOAK_MINUTES")); err == nil && v > 0 {
		minutes = v
	}
	const n = 100_000
	ws := make([]Watch, n)
	for i := range ws {
		ws[i] = Watch{Key: fmt.Sprintf("ns/c%d", i), URL: fmt.Sprintf("https://git.example.com/ns/c%d.git", i),
			Branch: "main", Interval: time.Minute}
	}
	home := t.TempDir()
	var resolves atomic.Int64
	startPoller(t, &Poller{
		Watches:     func(context.Context) ([]Watch, error) { return ws, nil },
		OnNewCommit: func(context.Context, string, string) error { return nil },
		// The default Resolve, counted.
		Resolve: func(ctx context.Context, w Watch) (string, error) {
			resolves.Add(1)
			return Resolve(ctx, w.URL, w.Branch, Options{Credentials: w.Credentials, Home: home})
		},
	})
	for m := 1; m <= minutes; m++ {
		cpu0, wall0, r0 := cpuTime(t), time.Now(), resolves.Load()
		time.Sleep(time.Minute)
		cpu, wall := cpuTime(t)-cpu0, time.Since(wall0)
		t.Logf("minute %d: CPU %v (%.2f%% of a core), %d resolves", m, cpu.Round(time.Millisecond),
			100*cpu.Seconds()/wall.Seconds(), resolves.Load()-r0)
	}
}

// cpuTime is the user and system time of this process and its waited-for
// children (the git processes).
func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var total time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if err := syscall.Getrusage(who, &ru); err != nil {
			t.Fatalf("getrusage: %v", err)
		}
		total += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return total
}
