package oci

import (
	"fmt"
	"io"
	"os"
	"time"
)

// WriteTree writes dir's content as a tar (the layer format: regular files,
// directories and symlinks, never followed), every entry dated epoch. A
// server hands a remote worker a build's source this way.
func WriteTree(dir string, epoch time.Time, w io.Writer) error {
	if err := writeTar(dir, epoch, w); err != nil {
		return fmt.Errorf("archiving %s: %w", dir, err)
	}
	return nil
}

// ExtractTree extracts an uncompressed tar written by WriteTree into dir
// (created if missing), with the limits and the confinement of unpacking
// an image: no entry lands outside dir, whatever its name or links.
func ExtractTree(r io.Reader, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("extracting into %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("extracting into %s: %w", dir, err)
	}
	defer root.Close()
	x := newExtractor(root)
	if err := x.apply(r); err != nil {
		return fmt.Errorf("extracting into %s: %w", dir, err)
	}
	if err := x.finish(); err != nil {
		return fmt.Errorf("extracting into %s: %w", dir, err)
	}
	return nil
}
