package server

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// movedRegistry records addr as an address of the embedded registry in
// the file path (one address per line) and returns the addresses it had
// before: artifact references name the registry's address, and a server
// restarted on another one still reads what they point at
// (pipelinerun.Runner.Moved).
func movedRegistry(path, addr string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading the registry's former addresses: %w", err)
	}
	var seen []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !slices.Contains(seen, l) {
			seen = append(seen, l)
		}
	}
	moved := slices.DeleteFunc(slices.Clone(seen), func(s string) bool { return s == addr })
	if len(moved) == len(seen) {
		if err := writeLines(path, append(seen, addr)); err != nil {
			return nil, fmt.Errorf("recording the registry's address: %w", err)
		}
	}
	return moved, nil
}

// writeLines replaces path with lines, atomically.
func writeLines(path string, lines []string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".registry-addresses-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(strings.Join(lines, "\n") + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if err := errors.Join(err, tmp.Close()); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
