package logstore

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Earlier layouts: build logs were DIR/<ns>/<build>.log, test logs
// DIR/tests/<ns>/<snapshot>/<scenario>.log and release logs
// DIR/releases/<ns>/<release>.log (so DIR/tests and DIR/releases also held
// the build logs of namespaces of those names). Every move is one rename:
// a crash in the middle leaves each log in one place, and the next Open
// moves the rest.
const (
	legacyTests    = "tests"
	legacyReleases = "releases"
)

// migrate moves every log of the earlier layouts into this one.
func migrate(dir string) error {
	for _, ns := range subdirs(dir) {
		if err := moveFiles(filepath.Join(dir, ns), filepath.Join(dir, ns, Build)); err != nil {
			return err
		}
	}
	if err := migrateTests(dir); err != nil {
		return err
	}
	for _, ns := range legacyNamespaces(filepath.Join(dir, legacyReleases)) {
		if err := moveFiles(filepath.Join(dir, legacyReleases, ns), filepath.Join(dir, ns, Release)); err != nil {
			return err
		}
	}
	if err := removeEmpty(filepath.Join(dir, legacyTests)); err != nil {
		return err
	}
	return removeEmpty(filepath.Join(dir, legacyReleases))
}

// migrateTests moves DIR/tests/<ns>/<snapshot>/*.log.
func migrateTests(dir string) error {
	tests := filepath.Join(dir, legacyTests)
	for _, ns := range legacyNamespaces(tests) {
		for _, snap := range subdirs(filepath.Join(tests, ns)) {
			if err := moveFiles(filepath.Join(tests, ns, snap), filepath.Join(dir, ns, Snapshot, snap)); err != nil {
				return err
			}
		}
		if err := removeEmpty(filepath.Join(tests, ns)); err != nil {
			return err
		}
	}
	return nil
}

// legacyNamespaces are the namespace directories under an earlier
// layout's tests/ or releases/ directory: any but this layout's kind
// directories (of a namespace named "tests" or "releases").
func legacyNamespaces(dir string) []string {
	var out []string
	for _, name := range subdirs(dir) {
		if name != Build && name != Snapshot && name != Release {
			out = append(out, name)
		}
	}
	return out
}

// moveFiles moves the regular *.log files directly in from into to
// (0600, under a 0700 directory), then removes from if it is empty.
func moveFiles(from, to string) error {
	entries, err := os.ReadDir(from)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".log") {
			continue
		}
		if err := moveFile(filepath.Join(from, e.Name()), filepath.Join(to, e.Name())); err != nil {
			return err
		}
	}
	return removeEmpty(from)
}

func moveFile(from, to string) error {
	if err := os.MkdirAll(filepath.Dir(to), dirMode); err != nil {
		return err
	}
	if err := os.Chmod(from, fileMode); err != nil {
		return err
	}
	return os.Rename(from, to)
}

// removeEmpty removes dir when nothing is left in it.
func removeEmpty(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) > 0 {
		return nil // gone, unreadable or in use: nothing to remove
	}
	return os.Remove(dir)
}

// subdirs lists the directories directly in dir.
func subdirs(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}
