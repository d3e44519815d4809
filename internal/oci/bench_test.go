package oci

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkPushTinyArtifact pushes a one-file artifact to the embedded
// registry over TLS with Basic auth. "new" changes the file every time (a
// blob upload and a manifest), "unchanged" pushes the same content under a
// new tag (blobs already present). "durable" is the default storage (fsync
// on every write, as distribution does); "nosync" is Config.NoSync.
func BenchmarkPushTinyArtifact(b *testing.B) {
	for _, mode := range []struct {
		name   string
		noSync bool
	}{{"durable", false}, {"nosync", true}} {
		tr := startRegistryWith(b, Config{Dir: b.TempDir(), NoSync: mode.noSync})
		b.Run(mode.name+"/new", func(b *testing.B) { benchPush(b, tr, true) })
		b.Run(mode.name+"/unchanged", func(b *testing.B) { benchPush(b, tr, false) })
	}
}

func benchPush(b *testing.B, tr *testRegistry, change bool) {
	ctx := context.Background()
	dir := b.TempDir()
	file := filepath.Join(dir, "hello.txt")
	mustNil(b, os.WriteFile(file, []byte("hello\n"), 0o644))
	opts := PushOptions{Remote: tr.remote(tokenA)}
	i := 0
	for b.Loop() {
		i++
		if change {
			mustNil(b, os.WriteFile(file, fmt.Appendf(nil, "hello %d\n", i), 0o644))
		}
		if _, err := PushDirectory(ctx, tr.ref(fmt.Sprintf("team-a/bench:%s%d", b.Name()[len(b.Name())-3:], i)), dir, opts); err != nil {
			b.Fatal(err)
		}
	}
}
