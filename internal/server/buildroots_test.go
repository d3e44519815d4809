package server

import (
	"testing"

	"github.com/kilnbuild/kiln/internal/pipelinerun"
)

// The configured bound reaches the buildroot cache: the default when none
// is set, none when it is negative.
func TestBuildrootCacheBound(t *testing.T) {
	for size, want := range map[int64]int64{0: DefaultBuildrootCacheSize, -1: 0, 5 << 30: 5 << 30} {
		cfg := Config{DataDir: t.TempDir(), BuildrootCacheSize: size}
		cfg.defaults()
		f := &Factory{cfg: cfg}
		cache := f.executor(&pipelinerun.Runner{}).Buildroots
		if cache.MaxBytes != want || cache.Log != cfg.Log {
			t.Errorf("BuildrootCacheSize %d: the cache is bounded to %d bytes (logger %v), want %d", size, cache.MaxBytes, cache.Log, want)
		}
	}
}
