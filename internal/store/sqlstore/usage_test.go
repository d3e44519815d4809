package sqlstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/internal/pgtest"
	"github.com/kilnbuild/kiln/internal/store"
	"github.com/kilnbuild/kiln/internal/store/sqlstore"
)

// fillForUsage writes 3 Builds of 1,000-byte documents (one updated twice)
// and 2 Snapshots, each with one label, and returns the open store.
func fillForUsage(t *testing.T, url string) store.Store {
	t.Helper()
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	doc := func(n int) []byte { return []byte(`{"x":"` + strings.Repeat("a", n-8) + `"}`) }
	for i, kind := range []string{"Build", "Build", "Build", "Snapshot", "Snapshot"} {
		o := &store.Object{Kind: kind, Namespace: "ns", Name: fmt.Sprintf("o%d", i), Labels: map[string]string{"k": "v"}, Data: doc(1000)}
		if o, err = s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
		for j := 0; i == 0 && j < 2; j++ {
			o.Data = doc(2000)
			if o, err = s.Update(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
	}
	return s
}

// checkUsage: objects hold the current documents, events every write.
func checkUsage(t *testing.T, url string) {
	t.Helper()
	fillForUsage(t, url)
	u, err := sqlstore.ReadUsage(context.Background(), url)
	if err != nil {
		t.Fatalf("ReadUsage: %v", err)
	}
	b, s := u.Objects["Build"], u.Objects["Snapshot"]
	// meta is {"l":{"k":"v"}}: 15 bytes per row.
	if b.Count != 3 || b.Bytes != 2000+1000+1000+3*15 || s.Count != 2 || s.Bytes != 2*(1000+15) {
		t.Errorf("objects: Build %+v, Snapshot %+v", b, s)
	}
	if e := u.Events["Build"]; e.Count != 5 || e.Bytes != 3*1000+2*2000+5*15 {
		t.Errorf("Build events %+v, want 5 rows of 7,075 bytes", e)
	}
	if tot := sqlstore.Total(u.Events); tot.Count != 7 {
		t.Errorf("events total %+v, want 7 rows", tot)
	}
	if u.IndexRows != 5 || u.SizeBytes < 8192 || u.FreeBytes < 0 || u.FreeBytes > u.SizeBytes {
		t.Errorf("index rows %d, size %d, free %d", u.IndexRows, u.SizeBytes, u.FreeBytes)
	}
}

func TestReadUsageSQLite(t *testing.T) {
	t.Parallel()
	checkUsage(t, filepath.Join(t.TempDir(), "kiln.db"))
}

func TestReadUsagePostgres(t *testing.T) {
	t.Parallel()
	checkUsage(t, pgtest.Start(t))
}

func TestReadUsageRefusesWhatItCannotRead(t *testing.T) {
	t.Parallel()
	for _, url := range []string{"mysql://x/y", "sqlite://", filepath.Join(t.TempDir(), "a.db?mode=rw")} {
		if _, err := sqlstore.ReadUsage(context.Background(), url); err == nil {
			t.Errorf("ReadUsage(%q) succeeded", url)
		}
	}
	if _, err := sqlstore.ReadUsage(context.Background(), filepath.Join(t.TempDir(), "missing.db")); err == nil {
		t.Error("ReadUsage of a missing file succeeded")
	}
}
