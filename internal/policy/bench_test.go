package policy

import (
	"context"
	"slices"
	"testing"
	"time"
)

// BenchmarkEvaluateArtifact evaluates one artifact with the shipped
// collections (all rules) and a realistic input: provenance with five step
// images, an SPDX SBOM from internal/attest. "fixture" is
// testdata/input.json (40 files, 60 Go modules: 68 packages);
// "large-sbom" has 1000 files and 400 modules. median-ms is the median
// time of one evaluation.
func BenchmarkEvaluateArtifact(b *testing.B) {
	eng := compileT(b, loadSpec(b, "policy.yaml"))
	prov, sbom := attestStatements(b, testMaterials(), 1000, 400)
	for _, bc := range []struct {
		name string
		in   Input
	}{
		{"fixture", loadInput(b)},
		{"large-sbom", inputFor(prov, sbom)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			benchEvaluate(b, eng, bc.in)
		})
	}
}

func benchEvaluate(b *testing.B, eng *Engine, in Input) {
	ctx := context.Background()
	if res, err := eng.Evaluate(ctx, "", in); err != nil || !res.Passed() {
		b.Fatalf("%+v %v", res.Violations, err)
	}
	times := make([]time.Duration, 0, b.N)
	var size int64
	for _, a := range in.Image.Attestations {
		size += int64(len(a.Statement))
	}
	b.SetBytes(size) // MB/s of statement JSON
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		if _, err := eng.Evaluate(ctx, "", in); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "median-ms")
	b.ReportMetric(float64(size)/1024, "statement-KiB")
}

// BenchmarkCompile compiles the shipped collections without the cache.
func BenchmarkCompile(b *testing.B) {
	spec := loadSpec(b, "policy.yaml")
	bi, err := builtin()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := compileProgram(context.Background(), "x", spec.Sources, bi); err != nil {
			b.Fatal(err)
		}
	}
}
