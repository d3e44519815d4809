package keyfile

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestCreateOneWinner(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keys", "k")
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { errs[i] = Create(path, []byte{byte('a' + i)}) })
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, os.ErrExist):
			t.Errorf("caller %d: %v, want success or os.ErrExist", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d callers created the file, want exactly 1", won)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("%d files in the directory, want only the key (no temporary file left)", len(entries))
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
}
