package publish

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// tempPrefix starts the names of files being written (see writeAtomic).
const tempPrefix = ".kiln-tmp-"

// createrepoTemp is the directory createrepo_c --update works in before
// it replaces repodata/; it refuses to run while one exists.
const createrepoTemp = ".repodata"

// lockDest takes an exclusive lock on the destination directory (flock,
// so it holds across processes and is released if this one dies): one
// publication at a time writes a directory, and whatever temporary files
// are found under the lock were left by one that was killed.
func lockDest(root *os.Root) (func(), error) {
	d, err := root.Open(".")
	if err != nil {
		return nil, fmt.Errorf("opening the destination to lock it: %w", err)
	}
	if err := unix.Flock(int(d.Fd()), unix.LOCK_EX); err != nil {
		d.Close()
		return nil, fmt.Errorf("locking the destination: %w", err)
	}
	return func() {
		_ = unix.Flock(int(d.Fd()), unix.LOCK_UN)
		d.Close()
	}, nil
}

// removeLeftovers deletes what an interrupted publication left behind:
// temporary files of writeAtomic anywhere in the tree, and createrepo_c's
// working directory at the top.
func removeLeftovers(root *os.Root) error {
	if err := root.RemoveAll(createrepoTemp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing an interrupted createrepo_c's %s: %w", createrepoTemp, err)
	}
	var stale []string
	err := fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), tempPrefix) {
			stale = append(stale, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("looking for files of an interrupted publication: %w", err)
	}
	for _, p := range stale {
		if err := root.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing %s, left by an interrupted publication: %w", p, err)
		}
	}
	return nil
}
