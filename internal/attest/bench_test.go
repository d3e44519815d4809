package attest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// BenchmarkSignAndAttest measures what a build pays after its push:
// provenance + SPDX SBOM generation (walking a trivial two-file output and
// a go.mod) + signing + pushing .sig, .att and .sbom to the embedded
// registry over TLS. Each iteration signs a new artifact, pushed while
// the timer is stopped. "durable" is the registry's default storage (fsync
// on every write), "nosync" is oci.Config.NoSync. Besides ns/op it reports
// the median.
func BenchmarkSignAndAttest(b *testing.B) {
	for _, mode := range []struct {
		name   string
		noSync bool
	}{{"durable", false}, {"nosync", true}} {
		b.Run(mode.name, func(b *testing.B) {
			tr := startRegistryWith(b, mode.noSync)
			benchSignAndAttest(b, tr, newSigner(b))
		})
	}
}

func benchSignAndAttest(b *testing.B, tr *testRegistry, s *Signer) {
	ctx := context.Background()
	out, src := b.TempDir(), b.TempDir()
	writeTree(b, src, map[string]string{"go.mod": goMod})
	times := make([]time.Duration, 0, b.N)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		files := map[string]string{"bin/greet": fmt.Sprintf("greet %d\n", i), "README": "hello\n"}
		writeTree(b, out, files)
		ref := tr.pushArtifact(b, fmt.Sprintf("team/bench:b%d", i), files)
		b.StartTimer()
		start := time.Now()
		a := splitRef(ref)
		prov, err := Provenance(testProvenanceInput(a))
		must(b, err)
		doc, err := SBOM(SBOMInput{Artifact: a, Materials: testMaterials(), OutputDir: out, SourceDir: src, Tool: "kiln-bench"})
		must(b, err)
		_, err = Publish(ctx, ref, s, Evidence{Provenance: prov, SBOM: doc}, tr.rem)
		must(b, err)
		times = append(times, time.Since(start))
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "ms-median")
}
