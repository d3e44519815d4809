package buildroot

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// copyVerified copies a local package file to dst, checking its SHA-256
// on the way.
func copyVerified(p Package, dst string) error {
	if filepath.Base(p.File) != p.File || p.File == "" || p.File == "." || p.File == ".." {
		return fmt.Errorf("package %s: bad file name %q", p, p.File)
	}
	in, err := os.Open(p.Path)
	if err != nil {
		return fmt.Errorf("package %s from %s: %w", p, p.Source(), err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(out, h), in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("package %s: %w", p, err)
	}
	return checkSum(p, hex.EncodeToString(h.Sum(nil)))
}

// verifyFile checks a downloaded file against the package's SHA-256. The
// file must be a regular file (the download step cannot point it
// elsewhere with a link).
func verifyFile(path string, p Package) error {
	info, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("package %s was not downloaded from %s: %w", p, p.URL, err)
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("package %s: %s is not a regular file", p, p.File)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("package %s: %w", p, err)
	}
	return checkSum(p, hex.EncodeToString(h.Sum(nil)))
}

func checkSum(p Package, got string) error {
	if got != p.SHA256 {
		return fmt.Errorf("package %s (%s): SHA-256 %s, expected %s: the file changed since it was pinned (for an archive package, "+
			"the archive no longer serves that version: rebuild the base to refresh its index)", p, p.Source(), got, p.SHA256)
	}
	return nil
}
