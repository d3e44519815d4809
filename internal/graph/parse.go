package graph

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"math"
	"strconv"
	"strings"
	"unsafe"
)

// ParseError is a malformed line in an edges or durations file.
type ParseError struct {
	Line int    // 1-based
	Msg  string // what is wrong and what was expected
}

func (e *ParseError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// ParseEdges reads lines "dependent<TAB>dependency". Blank lines and lines
// starting with '#' are skipped, spaces around names are trimmed, duplicate
// edges and self-loops are ignored. A malformed line is a *ParseError.
func ParseEdges(r io.Reader) (*Graph, error) {
	data, err := readAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading edges: %w", err)
	}
	// Every name is a substring of the input, so interning allocates
	// nothing per line. data is private to this function and never written
	// after this point, so viewing it as a string without a copy is safe.
	text := unsafe.String(unsafe.SliceData(data), len(data))
	in := newInterner(len(text) / 128)
	pairs := make([]int32, 0, len(text)/12)
	lastName, lastID := "", int32(-1) // files are usually sorted by dependent
	err = eachRecord(text, func(line int, a, b string) error {
		if a != lastName || lastID < 0 {
			lastName, lastID = a, in.id(a)
		}
		pairs = append(pairs, lastID, in.id(b))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return fromPairs(in.names, pairs), nil
}

// readAll reads r in one allocation when it can tell its size (files).
func readAll(r io.Reader) ([]byte, error) {
	size := 0
	if st, ok := r.(interface{ Stat() (fs.FileInfo, error) }); ok {
		if fi, err := st.Stat(); err == nil {
			size = int(fi.Size())
		}
	}
	buf := bytes.NewBuffer(make([]byte, 0, size+bytes.MinRead))
	_, err := buf.ReadFrom(r)
	return buf.Bytes(), err
}

// ParseDurations reads lines "name<TAB>seconds" (seconds > 0, may be
// fractional) with the same comment and blank-line rules as ParseEdges.
// A name given twice keeps its last value.
func ParseDurations(r io.Reader) (map[string]float64, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading durations: %w", err)
	}
	out := map[string]float64{}
	err = eachRecord(string(data), func(line int, name, secs string) error {
		f, err := strconv.ParseFloat(secs, 64)
		if err != nil || !(f > 0) || math.IsInf(f, 0) { // rejects NaN too
			return &ParseError{line, fmt.Sprintf("duration of %q must be a positive number of seconds, got %q", name, secs)}
		}
		out[name] = f
		return nil
	})
	return out, err
}

// eachRecord calls fn with the two tab-separated fields of every data line.
func eachRecord(text string, fn func(line int, a, b string) error) error {
	for line := 1; len(text) > 0; line++ {
		var l string
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			l, text = text[:i], text[i+1:]
		} else {
			l, text = text, ""
		}
		a, b, ok := fastSplit(l)
		if !ok {
			var skip bool
			var err error
			if a, b, skip, err = splitRecord(l); err != nil {
				return &ParseError{line, err.Error()}
			} else if skip {
				continue
			}
		}
		if err := fn(line, a, b); err != nil {
			return err
		}
	}
	return nil
}

// fastSplit handles the common line in one pass: two non-empty fields,
// one TAB, no spaces, no comment. Anything else goes to splitRecord.
func fastSplit(l string) (a, b string, ok bool) {
	tab := -1
	for i := 0; i < len(l); i++ {
		switch c := l[i]; {
		case c == '\t':
			if tab >= 0 {
				return "", "", false
			}
			tab = i
		case c <= ' ' || c == '#':
			return "", "", false
		}
	}
	if tab <= 0 || tab == len(l)-1 {
		return "", "", false
	}
	return l[:tab], l[tab+1:], true
}

// splitRecord splits one line; skip is true for blank and comment lines.
func splitRecord(l string) (a, b string, skip bool, err error) {
	l = strings.TrimSuffix(l, "\r")
	t := strings.TrimSpace(l)
	if t == "" || t[0] == '#' {
		return "", "", true, nil
	}
	a, b, ok := strings.Cut(l, "\t")
	if !ok {
		return "", "", false, fmt.Errorf("want two fields separated by a TAB, got %q", l)
	}
	if strings.IndexByte(b, '\t') >= 0 {
		return "", "", false, fmt.Errorf("want two fields separated by a TAB, got more in %q", l)
	}
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if a == "" || b == "" {
		return "", "", false, fmt.Errorf("empty name in %q", l)
	}
	if hasSpace(a) || hasSpace(b) {
		return "", "", false, fmt.Errorf("names may not contain spaces: %q", l)
	}
	return a, b, false, nil
}

func hasSpace(s string) bool { return strings.ContainsAny(s, " \v\f") }
