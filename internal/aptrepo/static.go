package aptrepo

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// StaticDirName is the apt repository's directory in a static release
// destination: a symbolic link to the current generation, in .apt/.
const StaticDirName = "apt"

// StaticResult says what PublishStatic wrote.
type StaticResult struct {
	// Dir is DIR/apt (the link apt clients are pointed at).
	Dir         string
	Packages    int
	Fingerprint string
}

// PublishStatic makes dir/apt an apt repository of debs signed with s.
// The tree is built in dir/.apt/<generation> and dir/apt is switched to
// it by renaming a new symbolic link over the old one, so a web server
// pointed at dir serves the old repository or the new one, never a mix.
func PublishStatic(dir string, meta Meta, debs []string, s *Signer) (StaticResult, error) {
	res, err := publishStatic(dir, meta, debs, s)
	if err != nil {
		return res, fmt.Errorf("publishing the apt repository in %s: %w", dir, err)
	}
	return res, nil
}

func publishStatic(dir string, meta Meta, debs []string, s *Signer) (StaticResult, error) {
	link := filepath.Join(dir, StaticDirName)
	if info, err := os.Lstat(link); err == nil && info.Mode()&fs.ModeSymlink == 0 {
		return StaticResult{}, fmt.Errorf("%s exists and is not the repository's link (a component named %q?): rename that component", link, StaticDirName)
	}
	pkgs := make([]Package, 0, len(debs))
	for _, d := range debs {
		p, err := ReadDeb(d)
		if err != nil {
			return StaticResult{}, err
		}
		pkgs = append(pkgs, p)
	}
	gens := Generations{Dir: filepath.Join(dir, "."+StaticDirName)}
	key := generationKey(s, meta.withDefaults(), staticInputs(pkgs))
	gen, err := gens.Ensure(key, func(tmp string) error { return Write(tmp, meta, pkgs, s) })
	if err != nil {
		return StaticResult{}, err
	}
	if err := swapLink(link, filepath.Join("."+StaticDirName, filepath.Base(gen))); err != nil {
		return StaticResult{}, err
	}
	return StaticResult{Dir: link, Packages: len(pkgs), Fingerprint: s.Fingerprint()}, nil
}

// staticInputs identify packages by content.
func staticInputs(pkgs []Package) []string {
	out := make([]string, len(pkgs))
	for i, p := range pkgs {
		out[i] = p.SHA256 + " " + p.FileName()
	}
	return out
}

// swapLink points link at target atomically (a new link renamed over it).
func swapLink(link, target string) error {
	if cur, err := os.Readlink(link); err == nil && cur == target {
		return nil
	}
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(link), tmpPrefix+"link-"+hex.EncodeToString(b))
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, link); err != nil {
		return errors.Join(err, os.Remove(tmp))
	}
	d, err := os.Open(filepath.Dir(link))
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// IsDeb reports a .deb file name.
func IsDeb(name string) bool { return strings.HasSuffix(name, ".deb") }
