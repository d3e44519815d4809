package aptrepo

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Generations keeps complete repository trees under Dir, one directory
// per generation named by a key of its inputs. A generation is built in a
// temporary directory and renamed into place only once complete, so a
// crash leaves either the old generations or the new one, never half of
// one (temporary leftovers are removed by the next Ensure).
type Generations struct {
	Dir string
	// Keep is how many generations stay (default 3), so a client that read
	// an older InRelease still finds its by-hash indices and .debs.
	Keep int
}

const tmpPrefix = ".tmp-"

// Ensure returns the directory of generation key, building it with build
// (which fills an empty directory) when it does not exist yet.
func (g Generations) Ensure(key string, build func(dir string) error) (string, error) {
	if strings.ContainsAny(key, `/\`) || key == "" || strings.HasPrefix(key, ".") {
		return "", fmt.Errorf("generation key %q is not a file name", key)
	}
	final := filepath.Join(g.Dir, key)
	if _, err := os.Stat(final); err == nil {
		return final, touch(final)
	}
	if err := os.MkdirAll(g.Dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(g.Dir, tmpPrefix)
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	if err := build(tmp); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil && !errors.Is(err, fs.ErrExist) && !isNotEmpty(err) {
		return "", fmt.Errorf("publishing repository generation: %w", err)
	}
	return final, g.prune(key)
}

func isNotEmpty(err error) bool {
	var le *os.LinkError
	return errors.As(err, &le) && strings.Contains(le.Err.Error(), "not empty")
}

// touch marks a generation as the newest in use.
func touch(dir string) error {
	now := time.Now()
	return os.Chtimes(dir, now, now)
}

// List returns the generation directories, newest first.
func (g Generations) List() ([]string, error) {
	ents, err := os.ReadDir(g.Dir)
	if err != nil {
		return nil, err
	}
	type gen struct {
		dir string
		mod time.Time
	}
	var gens []gen
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if info, err := e.Info(); err == nil {
			gens = append(gens, gen{filepath.Join(g.Dir, e.Name()), info.ModTime()})
		}
	}
	slices.SortFunc(gens, func(a, b gen) int { return b.mod.Compare(a.mod) })
	out := make([]string, len(gens))
	for i, x := range gens {
		out[i] = x.dir
	}
	return out, nil
}

// prune removes all but the newest Keep generations (never current) and
// any temporary directory a crash left.
func (g Generations) prune(current string) error {
	if err := touch(filepath.Join(g.Dir, current)); err != nil {
		return err
	}
	keep := g.Keep
	if keep <= 0 {
		keep = 3
	}
	gens, err := g.List()
	if err != nil {
		return err
	}
	var errs []error
	for i, dir := range gens {
		if i >= keep && filepath.Base(dir) != current {
			errs = append(errs, os.RemoveAll(dir))
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(g.Dir, tmpPrefix+"*"))
	for _, l := range leftovers {
		if info, err := os.Stat(l); err == nil && time.Since(info.ModTime()) > time.Hour {
			errs = append(errs, os.RemoveAll(l))
		}
	}
	return errors.Join(errs...)
}
