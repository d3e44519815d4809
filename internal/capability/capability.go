// Package capability finds what a component provides and requires by reading
// its source tree (go.mod, an RPM spec file, package.json, pyproject.toml,
// debian/control and an optional .kiln/capabilities.yaml) and resolves those capabilities into
// edges between components, so builds can be ordered without hand-written
// build orders. It only computes; nothing is fetched or built. See README.md.
package capability

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kilnbuild/kiln/internal/tenantfs"
)

// Provide is one capability a component provides.
type Provide struct {
	Name   string `json:"name"`
	Source string `json:"source"` // file:line it was found at, e.g. "greet.spec:3"
}

// Requirement is one thing a component needs: any one of the alternatives
// (in the order written) satisfies it.
type Requirement struct {
	Any      []string `json:"any"`
	Source   string   `json:"source"` // file:line, e.g. "greet.spec:12"
	Optional bool     `json:"optional,omitempty"`
}

// Set is what one component provides and requires. Provides and
// requirements are sorted and free of duplicates.
type Set struct {
	Provides        []Provide     `json:"provides,omitempty"`
	BuildRequires   []Requirement `json:"buildRequires,omitempty"`
	RuntimeRequires []Requirement `json:"runtimeRequires,omitempty"`
	// Detected names the detectors that found their file: go, rpm, npm,
	// python, debian, override.
	Detected []string `json:"detected,omitempty"`
	// Warnings are things detection did not understand or skipped, in the
	// order they were found.
	Warnings []string `json:"warnings,omitempty"`
	// SourceBytes is the size of the tree's code files (SourceBytes).
	SourceBytes int64 `json:"sourceBytes,omitempty"`
}

// Error is a problem in a source file. It prints as "file:line: msg".
type Error struct {
	File string
	Line int // 0 when the problem is not on one line
	Msg  string
}

func (e *Error) Error() string { return at(e.File, e.Line) + ": " + e.Msg }

// Options tune detection.
type Options struct {
	// Names are the component's names (component name, directory name) in
	// order of preference. When the tree has several spec files, the one
	// named after the first matching name is read.
	Names []string
	// DebianArch is the architecture debian/control is read for (its
	// architecture restrictions and which binary packages are built);
	// empty means the host's (debian.HostArch).
	DebianArch string
	// DebianProfiles are the active Debian build profiles, e.g.
	// ["nocheck"]; none by default. ComponentOptions sets nocheck from the
	// component's build parameter nocheck=true.
	DebianProfiles []string
	// Only, when set, names the detectors that read the tree (e.g.
	// ["debian"]): a component built by a packaging pipeline is described
	// by that format's metadata alone — an upstream RPM spec or
	// package.json shipped in a Debian source tree is not how it is built,
	// and must not make its detection fail. ComponentOptions sets it.
	Only []string
}

// maxFileSize bounds what is read of any one manifest.
const maxFileSize = 8 << 20

// Detect reads the checked-out source context directory dir. Files are
// read inside dir only: a symbolic link that leads out of dir (or a FIFO,
// or a manifest over 8 MiB) is an error naming it, never followed. Among
// several spec files it prefers the one named after dir.
func Detect(dir string) (*Set, error) { return DetectWith(dir, Options{}) }

// DetectWith is Detect with options; dir's own name is tried after
// opts.Names.
func DetectWith(dir string, opts Options) (*Set, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("detecting capabilities: %w", err)
	}
	repo, err := tenantfs.Open(abs, "the repository")
	if err != nil {
		return nil, fmt.Errorf("detecting capabilities: %w", err)
	}
	defer repo.Close()
	opts.Names = append(slices.Clip(opts.Names), filepath.Base(abs))
	return DetectFSWith(repo.FS(maxFileSize), opts)
}

// DetectFS reads the source tree fsys (its root is the context directory).
func DetectFS(fsys fs.FS) (*Set, error) { return DetectFSWith(fsys, Options{}) }

// detector reads one kind of manifest; found says whether its file exists.
type detector struct {
	name string
	run  func(c *collector) (found bool, err error)
}

var detectors = []detector{
	{"go", detectGo},
	{"rpm", detectRPM},
	{"npm", detectNPM},
	{"python", detectPython},
	{"debian", detectDebian},
}

// DetectFSWith is DetectFS with options. Every manifest is read even when
// another one is malformed, and all their errors are returned together.
func DetectFSWith(fsys fs.FS, opts Options) (*Set, error) {
	c := &collector{fsys: fsys, opts: opts}
	var errs []error
	for _, d := range detectors {
		if opts.Only != nil && !slices.Contains(opts.Only, d.name) {
			continue
		}
		found, err := d.run(c)
		if found {
			c.set.Detected = append(c.set.Detected, d.name)
		}
		errs = append(errs, err)
	}
	errs = append(errs, applyOverride(c))
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	c.weigh()
	c.set.normalize()
	return &c.set, nil
}

// collector accumulates what the detectors find.
type collector struct {
	fsys fs.FS
	opts Options
	set  Set
}

// weigh records the tree's code size; a tree it cannot walk is weighed 0
// with a warning (the size only orders builds, it never fails detection).
func (c *collector) weigh() {
	n, err := SourceBytes(c.fsys)
	if err != nil {
		c.warn("weighing the source: %v", err)
	}
	c.set.SourceBytes = n
}

func (c *collector) provide(name, source string) {
	c.set.Provides = append(c.set.Provides, Provide{Name: name, Source: source})
}

func (c *collector) buildReq(r Requirement) { c.set.BuildRequires = append(c.set.BuildRequires, r) }

func (c *collector) runtimeReq(r Requirement) {
	c.set.RuntimeRequires = append(c.set.RuntimeRequires, r)
}

func (c *collector) warn(format string, args ...any) {
	c.set.Warnings = append(c.set.Warnings, fmt.Sprintf(format, args...))
}

// read returns the file's content, or ok=false when it does not exist.
// Anything but a regular file is an error.
func (c *collector) read(name string) (data []byte, ok bool, err error) {
	info, err := fs.Stat(c.fsys, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, readError(name, err)
	}
	if !info.Mode().IsRegular() {
		return nil, false, &Error{File: name, Msg: "not a regular file"}
	}
	if info.Size() > maxFileSize {
		return nil, false, &Error{File: name, Msg: fmt.Sprintf("larger than %d bytes", maxFileSize)}
	}
	data, err = fs.ReadFile(c.fsys, name)
	if err != nil {
		return nil, false, readError(name, err)
	}
	return data, true, nil
}

// readError keeps a tenantfs error as it is: it names the file already.
func readError(name string, err error) error {
	if te := (*tenantfs.Error)(nil); errors.As(err, &te) {
		return err
	}
	return fmt.Errorf("reading %s: %w", name, err)
}

// at formats a source position: "file:line", or "file" when line is 0.
func at(file string, line int) string {
	if line > 0 {
		return fmt.Sprintf("%s:%d", file, line)
	}
	return file
}

// normalize sorts every list and drops duplicates (the first source of a
// duplicate is kept; a requirement stays optional only if every copy is).
func (s *Set) normalize() {
	s.Provides = dedupeProvides(s.Provides)
	s.BuildRequires = dedupeRequirements(s.BuildRequires)
	s.RuntimeRequires = dedupeRequirements(s.RuntimeRequires)
	slices.Sort(s.Detected)
	s.Detected = slices.Compact(s.Detected)
	s.Warnings = dedupeKeepOrder(s.Warnings)
}

func dedupeProvides(ps []Provide) []Provide {
	slices.SortStableFunc(ps, func(a, b Provide) int { return strings.Compare(a.Name, b.Name) })
	return slices.CompactFunc(ps, func(a, b Provide) bool { return a.Name == b.Name })
}

func dedupeRequirements(rs []Requirement) []Requirement {
	slices.SortStableFunc(rs, func(a, b Requirement) int { return slices.Compare(a.Any, b.Any) })
	out := rs[:0]
	for _, r := range rs {
		if n := len(out); n > 0 && slices.Equal(out[n-1].Any, r.Any) {
			out[n-1].Optional = out[n-1].Optional && r.Optional
			continue
		}
		out = append(out, r)
	}
	return out
}

func dedupeKeepOrder(ss []string) []string {
	seen := make(map[string]bool, len(ss))
	out := ss[:0]
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
