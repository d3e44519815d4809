package git

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkFetchCheckoutWarm is the per-build cost of getting sources when
// the mirror already has them: ls-remote, a mirror lookup, reading the
// commit and exporting a one-file tree.
//
//	go test ./internal/git -run '^$' -bench FetchCheckoutWarm -benchtime 200x
func BenchmarkFetchCheckoutWarm(b *testing.B) {
	r := newRepo(b)
	head := r.commit("first", map[string]string{"Containerfile": "FROM scratch\n"})
	c := &Cache{Dir: b.TempDir()}
	if _, err := c.Fetch(ctx, r.url(), "main"); err != nil {
		b.Fatal(err)
	}
	out := b.TempDir()
	for i := 0; b.Loop(); i++ {
		commit, err := c.Fetch(ctx, r.url(), "main")
		if err != nil || commit != head {
			b.Fatalf("Fetch = %q, %v", commit, err)
		}
		dest := filepath.Join(out, strconv.Itoa(i))
		if _, err := c.Checkout(ctx, r.url(), commit, dest, ""); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := os.RemoveAll(dest); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
