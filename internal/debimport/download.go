package debimport

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"pault.ag/go/debian/control"
)

// Download fetches the package's files into dir, each checked against the
// signed Sources index (size and SHA-256), then checks the .dsc: it must
// name the package and version, and every file it lists must be one of
// those downloaded with the same SHA-256. It returns the .dsc's path.
func (a *Archive) Download(ctx context.Context, sp *SourcePackage, dir string) (string, error) {
	for _, f := range sp.Files {
		if err := a.downloadFile(ctx, sp.Directory+"/"+f.Name, filepath.Join(dir, f.Name), f); err != nil {
			return "", fmt.Errorf("%s: %w", sp.Name, err)
		}
	}
	dsc := filepath.Join(dir, sp.dsc().Name)
	if err := verifyDSC(dsc, sp); err != nil {
		return "", fmt.Errorf("%s: %s: %w", sp.Name, sp.dsc().Name, err)
	}
	return dsc, nil
}

// downloadFile streams one file to dest, hashing it on the way.
func (a *Archive) downloadFile(ctx context.Context, name, dest string, want File) error {
	out, err := os.OpenFile(dest, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	h := sha256.New()
	err = a.download(ctx, name, io.MultiWriter(out, h), want.Size)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	info, err := os.Stat(dest)
	if err != nil {
		return err
	}
	if info.Size() != want.Size {
		return fmt.Errorf("%s: size %d does not match the signed index (%d): the download is corrupt or was tampered with", want.Name, info.Size(), want.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want.SHA256 {
		return fmt.Errorf("%s: SHA-256 %s does not match the signed index (%s): the download is corrupt or was tampered with", want.Name, got, want.SHA256)
	}
	return nil
}

// verifyDSC checks the .dsc against the package entry.
func verifyDSC(file string, sp *SourcePackage) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	pr, err := control.NewParagraphReader(bytes.NewReader(data), nil)
	if err != nil {
		return fmt.Errorf("not a .dsc: %w", err)
	}
	p, err := pr.Next()
	if err != nil {
		return fmt.Errorf("not a .dsc: %w", err)
	}
	if p.Values["Source"] != sp.Name || p.Values["Version"] != sp.Version {
		return fmt.Errorf("describes %s %s, but the index lists %s %s", p.Values["Source"], p.Values["Version"], sp.Name, sp.Version)
	}
	listed, err := parseChecksums(p.Values["Checksums-Sha256"])
	if err != nil {
		return fmt.Errorf("Checksums-Sha256: %w", err)
	}
	if len(listed) == 0 {
		return fmt.Errorf("lists no files in Checksums-Sha256")
	}
	return matchIndex(listed, sp)
}

// matchIndex checks every file the .dsc lists against the index entry.
func matchIndex(listed map[string]File, sp *SourcePackage) error {
	for name, f := range listed {
		var idx *File
		for i := range sp.Files {
			if sp.Files[i].Name == name {
				idx = &sp.Files[i]
			}
		}
		if idx == nil {
			return fmt.Errorf("lists %s, which the index does not", name)
		}
		if idx.SHA256 != f.SHA256 || idx.Size != f.Size {
			return fmt.Errorf("%s: the .dsc says SHA-256 %s (%d bytes), the index %s (%d bytes): the package was tampered with", name, f.SHA256, f.Size, idx.SHA256, idx.Size)
		}
	}
	return nil
}
