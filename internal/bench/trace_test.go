package bench

import (
	"context"
	"testing"
)

// TestRunTraceSmall generates a small index and times every kind of
// starting point: each finds something, the deep and popular ones reach
// past their start.
func TestRunTraceSmall(t *testing.T) {
	t.Parallel()
	rep, err := RunTrace(context.Background(), TraceOptions{Builds: 2000, Edges: 22000, Namespaces: 2, Samples: 20, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stats.Edges < 18000 || rep.Stats.Edges > 30000 || rep.Stats.Records < 2000 {
		t.Fatalf("generated %+v for 2,000 builds and about 22,000 edges", rep.Stats)
	}
	if len(rep.Starts) != 3 {
		t.Fatalf("starts %+v", rep.Starts)
	}
	for _, s := range rep.Starts {
		if s.Latency.N != 20 || s.MeanNodes < 5 {
			t.Errorf("%s: %d traces of %.1f nodes", s.Name, s.Latency.N, s.MeanNodes)
		}
	}
}
