package server

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// privateDirs are the data directory's subdirectories: the server alone
// reads them (build steps reach workspaces and images through the
// sandbox's own staging, never by path), so they are 0700 whatever mode
// they had.
var privateDirs = []string{"keys", "signing", "tls", "registry", "git", "logs", "evidence", "repos", "apt", "work", "step-images"}

// keyDirs hold keys and certificates: every file in them is made 0600 and
// every directory 0700.
var keyDirs = []string{"keys", "signing", "tls"}

// privateFiles are the data directory's files: the SQLite database (its
// WAL and shared memory files take its mode) and the admin's client config.
var privateFiles = []string{"kiln.db", "kiln.db-wal", "kiln.db-shm", ClientConfigName}

// secureDataDir creates the data directory's subdirectories 0700 and
// narrows what exists already: an older Kiln, an operator's copy or a
// restored backup may have left them readable by other users.
func secureDataDir(dir string) error {
	for _, d := range privateDirs {
		p := filepath.Join(dir, d)
		if err := os.MkdirAll(p, 0o700); err != nil {
			return fmt.Errorf("creating data directory %s: %w", p, err)
		}
		if err := os.Chmod(p, 0o700); err != nil {
			return fmt.Errorf("making data directory %s private: %w", p, err)
		}
	}
	for _, d := range keyDirs {
		if err := privateTree(filepath.Join(dir, d)); err != nil {
			return err
		}
	}
	for _, f := range privateFiles {
		err := os.Chmod(filepath.Join(dir, f), 0o600)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("making %s private: %w", f, err)
		}
	}
	return nil
}

// privateTree makes every directory under root 0700 and every file 0600;
// symlinks are left alone.
func privateTree(root string) error {
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir():
			return os.Chmod(path, 0o700)
		case d.Type().IsRegular():
			return os.Chmod(path, 0o600)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("making %s private: %w", root, err)
	}
	return nil
}
