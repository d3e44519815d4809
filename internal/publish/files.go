package publish

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/kilnbuild/kiln/internal/tenantfs"
)

// syncTree copies the pulled tree stage into root, entry by entry. The
// artifact's links are recreated, never followed, and nothing outside
// stage is read.
func syncTree(stage string, root *os.Root, res *StaticResult) error {
	tree, err := tenantfs.Open(stage, "the artifact")
	if err != nil {
		return err
	}
	defer tree.Close()
	return tree.WalkDir(".", func(rel string, d fs.DirEntry, err error) error {
		if err != nil || rel == "." {
			return err
		}
		if err := checkName(rel); err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return syncDir(rel, root)
		case d.Type()&fs.ModeSymlink != 0:
			return syncLink(tree, rel, root, res)
		case d.Type().IsRegular():
			return syncFile(tree, rel, root, res)
		}
		return fmt.Errorf("%s is a %s, not a file, directory or symlink", rel, d.Type())
	})
}

// checkName refuses names the index cannot list or that PublishFiles
// writes itself.
func checkName(rel string) error {
	if rel == SumsFile || rel == IndexFile {
		return fmt.Errorf("the artifact contains %s, which the publisher writes itself; rename it", rel)
	}
	if base := path.Base(rel); strings.HasPrefix(base, tempPrefix) || rel == createrepoTemp {
		return fmt.Errorf("the artifact contains %s, a name the publisher keeps for its temporary files; rename it", rel)
	}
	if strings.ContainsAny(rel, "\n\r\\") {
		return fmt.Errorf("file name %q contains a newline or backslash, which SHA256SUMS cannot list", rel)
	}
	return nil
}

// syncDir creates a directory. A symlink already in its place is refused:
// links must not change what the artifact's relative links resolve to.
func syncDir(rel string, root *os.Root) error {
	if info, err := root.Lstat(rel); err == nil && info.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("%s is a symlink at the destination but a directory in the artifact; remove it", filepath.ToSlash(rel))
	}
	return root.MkdirAll(rel, 0o755)
}

// syncLink recreates a symlink whose target stays inside the destination.
func syncLink(tree *tenantfs.Tree, rel string, root *os.Root, res *StaticResult) error {
	target, err := tree.Readlink(rel)
	if err != nil {
		return err
	}
	slashRel := filepath.ToSlash(rel)
	if !localLink(slashRel, target) {
		return fmt.Errorf("symlink %s points to %q, outside the destination", slashRel, target)
	}
	if cur, err := root.Readlink(rel); err == nil && cur == target {
		res.Skipped = append(res.Skipped, slashRel)
		return nil
	}
	if err := root.Remove(rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := root.Symlink(target, rel); err != nil {
		return err
	}
	res.Written = append(res.Written, slashRel)
	return nil
}

// localLink reports whether the link rel -> target resolves inside the
// destination: a relative target whose ".." elements all come first (so no
// ".." follows a component that may itself be a link) and that does not
// climb above the root.
func localLink(rel, target string) bool {
	if target == "" || path.IsAbs(target) {
		return false
	}
	descended := false
	for _, el := range strings.Split(target, "/") {
		switch {
		case el == "..":
			if descended {
				return false
			}
		case el != "" && el != ".":
			descended = true
		}
	}
	return filepath.IsLocal(path.Join(path.Dir(rel), target))
}

// syncFile writes a regular file unless the destination has it already,
// and adds it to the index.
func syncFile(tree *tenantfs.Tree, rel string, root *os.Root, res *StaticResult) error {
	src, info, err := tree.Open(rel)
	if err != nil {
		return err
	}
	defer src.Close()
	sum, size, err := hashReader(src)
	if err != nil {
		return err
	}
	res.Index.Files = append(res.Index.Files, FileEntry{Path: rel, Size: size, SHA256: sum})
	if sameFile(root, rel, sum, size) {
		res.Skipped = append(res.Skipped, rel)
		return nil
	}
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := writeAtomic(root, rel, io.LimitReader(src, size), info.Mode().Perm()); err != nil {
		return fmt.Errorf("writing %s: %w", rel, err)
	}
	res.Written = append(res.Written, rel)
	return nil
}

// sameFile reports whether root has a regular file rel with this content.
func sameFile(root *os.Root, rel, sum string, size int64) bool {
	info, err := root.Lstat(rel)
	if err != nil || !info.Mode().IsRegular() || info.Size() != size {
		return false
	}
	got, _, err := hashFile(root.Open(rel))
	return err == nil && got == sum
}

// hashFile returns the hex SHA-256 and size of an opened file, closing it.
func hashFile(f *os.File, err error) (string, int64, error) {
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	return hashReader(f)
}

func hashReader(r io.Reader) (string, int64, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// writeAtomic writes r to name through a temporary file beside it, so the
// name holds the old or the new content, never a part.
func writeAtomic(root *os.Root, name string, r io.Reader, perm fs.FileMode) error {
	tmp := filepath.Join(filepath.Dir(name), tempPrefix+rand.Text())
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	err = errors.Join(err, f.Sync(), f.Close())
	if err == nil {
		err = root.Chmod(tmp, perm) // the umask may have narrowed it
	}
	if err == nil {
		err = root.Rename(tmp, name)
	}
	if err != nil {
		_ = root.Remove(tmp)
	}
	return err
}

// writeIndex writes SHA256SUMS (sha256sum's format) and index.json.
func writeIndex(root *os.Root, idx Index) error {
	var sums bytes.Buffer
	for _, f := range idx.Files {
		fmt.Fprintf(&sums, "%s  %s\n", f.SHA256, f.Path)
	}
	if err := writeAtomic(root, SumsFile, &sums, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", SumsFile, err)
	}
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	if err := writeAtomic(root, IndexFile, bytes.NewReader(append(b, '\n')), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", IndexFile, err)
	}
	return nil
}
