// Package keyfile creates key files so that a key is never seen half
// written and, when several processes create one at once (replicas sharing
// a directory), exactly one is kept and every process reads that one.
package keyfile

import (
	"errors"
	"os"
	"path/filepath"
)

// Create writes data (mode 0600, synced) to a temporary file beside path
// and hard-links it to path. If path exists already it fails with an
// error matching os.ErrExist and path is left as it was: the caller then
// reads the key another process created.
func Create(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".key-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if err := errors.Join(err, f.Close()); err != nil {
		return err
	}
	return os.Link(f.Name(), path)
}
