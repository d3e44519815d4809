package aptrepo

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
)

// Signed names, beside Release.
const (
	InReleaseFile  = "InRelease"
	ReleaseGPGFile = "Release.gpg"
	// KeyFile is the repository's armored public key at its root.
	KeyFile = "key.asc"
)

// Write writes a complete repository for pkgs into dir (an empty
// directory): dists/ with the signed Release, pool/ with the .debs (hard
// links when the files are on the same file system, copies otherwise) and
// key.asc. Every file is synced; callers make the directory visible only
// afterwards (see Generations), so no reader sees a half-written tree.
func Write(dir string, meta Meta, pkgs []Package, s *Signer) error {
	idx, err := BuildIndex(meta, pkgs)
	if err != nil && !IsEmpty(err) {
		return &PackageError{err}
	}
	if err != nil {
		return err
	}
	if err := sign(idx, s); err != nil {
		return err
	}
	for rel, data := range idx.Files {
		if err := writeFile(filepath.Join(dir, filepath.FromSlash(rel)), data); err != nil {
			return err
		}
	}
	for _, p := range pkgs {
		if err := placeFile(p.Path, filepath.Join(dir, filepath.FromSlash(p.PoolPath(idx.Meta.Component)))); err != nil {
			return err
		}
	}
	return syncDir(dir)
}

// sign adds InRelease, Release.gpg and key.asc to idx.
func sign(idx *Index, s *Signer) error {
	dists := path.Join("dists", idx.Meta.Suite)
	in, err := s.ClearSign(idx.Release)
	if err != nil {
		return err
	}
	det, err := s.DetachSign(idx.Release)
	if err != nil {
		return err
	}
	pub, err := s.PublicKey()
	if err != nil {
		return err
	}
	idx.Files[path.Join(dists, InReleaseFile)] = in
	idx.Files[path.Join(dists, ReleaseGPGFile)] = det
	idx.Files[KeyFile] = pub
	return nil
}

func writeFile(file string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// placeFile hard-links src to dst, or copies it when it cannot.
func placeFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := os.Link(src, dst); err == nil || errors.Is(err, os.ErrExist) {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if err := errors.Join(err, out.Close()); err != nil {
		return fmt.Errorf("copying %s: %w", filepath.Base(src), err)
	}
	return nil
}

// syncDir syncs every directory of the tree, so renaming it in makes
// entries that survive a crash.
func syncDir(root string) error {
	return filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		return errors.Join(f.Sync(), f.Close())
	})
}
