package graph

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// DebianStats counts what FromDebian did with the dependencies it read.
type DebianStats struct {
	Packages   int // stanzas read (a package in several files counts each time)
	Virtual    int // dependencies resolved through Provides
	Unresolved int // dependency groups with no known package or provider
}

// debianIndex is what FromDebian keeps from the Packages stanzas.
type debianIndex struct {
	real     map[string]bool
	provides map[string][]string // virtual name → providers
	in       *interner
	groups   [][2]int32 // (package ID, index into alts)
	alts     [][]string // one dependency: its alternatives in order
}

// FromDebian reads Debian Packages files (plain or gzip; decompress lz4 or
// xz first) and returns the graph of Depends and Pre-Depends: for each
// dependency the first alternative that resolves: a real package, or a
// virtual one mapped to its provider with the smallest name; versions and architecture qualifiers (":any") are dropped.
// Packages without any edge do not appear.
func FromDebian(files ...io.Reader) (*Graph, DebianStats, error) {
	idx := &debianIndex{real: map[string]bool{}, provides: map[string][]string{}, in: newInterner(1 << 16)}
	var st DebianStats
	for i, f := range files {
		r, err := decompress(f)
		if err != nil {
			return nil, st, fmt.Errorf("%s: %w", inputName(f, i), err)
		}
		n, err := idx.read(r)
		st.Packages += n
		if err != nil {
			return nil, st, fmt.Errorf("reading %s: %w", inputName(f, i), err)
		}
	}
	pairs := idx.resolve(&st)
	return fromPairs(idx.in.names, pairs), st, nil
}

// inputName is the file name of an *os.File, else "input N".
func inputName(f io.Reader, i int) string {
	if n, ok := f.(interface{ Name() string }); ok {
		return n.Name()
	}
	return fmt.Sprintf("input %d", i+1)
}

// decompress sniffs gzip; lz4 and xz get an error that says what to do.
func decompress(f io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(f, 1<<20)
	magic, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return gzip.NewReader(br)
	case bytes.Equal(magic, []byte{0x04, 0x22, 0x4d, 0x18}):
		return nil, errors.New("is lz4-compressed: decompress it first, e.g. `lz4 -dc FILE | kiln graph from-debian -`")
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X'}):
		return nil, errors.New("is xz-compressed: decompress it first, e.g. `xz -dc FILE | kiln graph from-debian -`")
	}
	return br, nil
}

// read scans stanzas; only Package, Provides, Depends and Pre-Depends
// matter (dependency fields are never folded in Packages files).
func (idx *debianIndex) read(r io.Reader) (int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var pkg string
	var deps []string
	stanzas := 0
	flush := func() {
		if pkg != "" {
			idx.add(pkg, deps)
			stanzas++
		}
		pkg, deps = "", deps[:0]
	}
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0:
			flush()
		case hasField(line, "Package: "):
			pkg = string(bytes.TrimSpace(line[len("Package: "):]))
			idx.real[pkg] = true
		case hasField(line, "Depends: "), hasField(line, "Pre-Depends: "):
			_, v, _ := bytes.Cut(line, []byte(": "))
			deps = append(deps, string(v))
		case hasField(line, "Provides: "):
			idx.addProvides(pkg, string(line[len("Provides: "):]))
		}
	}
	flush()
	return stanzas, sc.Err()
}

func hasField(line []byte, prefix string) bool {
	return len(line) > len(prefix) && line[0] == prefix[0] && string(line[:len(prefix)]) == prefix
}

func (idx *debianIndex) addProvides(pkg, value string) {
	for _, item := range strings.Split(value, ",") {
		if name := debName(item); name != "" && pkg != "" {
			idx.provides[name] = append(idx.provides[name], pkg)
		}
	}
}

// add records the dependency groups of one package.
func (idx *debianIndex) add(pkg string, fields []string) {
	id := idx.in.id(pkg)
	for _, f := range fields {
		for _, group := range strings.Split(f, ",") {
			var alts []string
			for _, alt := range strings.Split(group, "|") {
				if n := debName(alt); n != "" {
					alts = append(alts, n)
				}
			}
			if len(alts) > 0 {
				idx.groups = append(idx.groups, [2]int32{id, int32(len(idx.alts))})
				idx.alts = append(idx.alts, alts)
			}
		}
	}
}

// debName strips spaces, a version "(>= 1.0)", an architecture list
// "[amd64]" and a qualifier ":any" from one relation.
func debName(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, " ([<"); i >= 0 {
		s = s[:i]
	}
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	return s
}

// resolve turns every dependency group into an edge (see FromDebian).
func (idx *debianIndex) resolve(st *DebianStats) []int32 {
	for _, p := range idx.provides {
		slices.Sort(p)
	}
	pairs := make([]int32, 0, 2*len(idx.groups))
	for _, g := range idx.groups {
		target, virtual := idx.pick(idx.alts[g[1]])
		switch {
		case target == "":
			st.Unresolved++
			continue
		case virtual:
			st.Virtual++
		}
		pairs = append(pairs, g[0], idx.in.id(target))
	}
	return pairs
}

func (idx *debianIndex) pick(alts []string) (name string, virtual bool) {
	for _, a := range alts {
		if idx.real[a] {
			return a, false
		}
		if p := idx.provides[a]; len(p) > 0 {
			return p[0], true
		}
	}
	return "", false
}
