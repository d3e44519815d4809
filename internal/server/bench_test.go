package server

import (
	"strconv"
	"sync/atomic"
	"testing"
)

// BenchmarkAPICreate creates Components over HTTPS with parallel clients.
func BenchmarkAPICreate(b *testing.B) {
	f, err := Start(b.Context(), Config{DataDir: b.TempDir(), Listen: "127.0.0.1:0", Log: quietLog()})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Stop()
	t := &testing.T{}
	a := api{t: t, base: f.URL, token: f.AdminToken, hc: f.HTTPClient()}
	a.do("POST", "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": "team-a"}})
	a.do("POST", nsPath("team-a", "applications"), app("greet"))
	var n atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			r := a.do("POST", nsPath("team-a", "components"), component("c"+strconv.FormatInt(i, 10), "greet"))
			if r.Code != 201 {
				b.Errorf("create: %d %s", r.Code, r.Body)
				return
			}
		}
	})
}
