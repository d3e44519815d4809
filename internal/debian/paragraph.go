package debian

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// maxControlSize bounds what is read of one control file.
const maxControlSize = 8 << 20

// SyntaxError is a problem in a control file at a line.
type SyntaxError struct {
	File string // "debian/control" unless the caller names it
	Line int    // 1-based; 0 when the problem is not on one line
	Msg  string
}

func (e *SyntaxError) Error() string {
	if e.Line == 0 {
		return e.File + ": " + e.Msg
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// field is one "Name: value" of a paragraph; continuation lines are joined
// with "\n".
type field struct {
	name  string
	value string
	line  int
	more  []string // continuation lines, joined into value at the end
}

// paragraph is one deb822 stanza with the line each field starts on.
type paragraph struct {
	fields []field
	line   int
}

// get returns the field named name (case-insensitively).
func (p *paragraph) get(name string) (field, bool) {
	for _, f := range p.fields {
		if strings.EqualFold(f.name, name) {
			return f, true
		}
	}
	return field{}, false
}

// readParagraphs splits a deb822 file (debian/control syntax: '#' comment
// lines allowed) into paragraphs, keeping line numbers for errors.
func readParagraphs(r io.Reader, file string) ([]paragraph, error) {
	sc := bufio.NewScanner(io.LimitReader(r, maxControlSize+1))
	sc.Buffer(make([]byte, 64<<10), maxControlSize+1)
	pr := paragraphReader{file: file}
	size := 0
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if size += len(line) + 1; size > maxControlSize {
			return nil, &SyntaxError{file, n, "file is larger than 8 MiB"}
		}
		if strings.ContainsRune(line, 0) {
			return nil, &SyntaxError{file, n, "a NUL byte: this is not a text file"}
		}
		if err := pr.add(line, n); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	for i := range pr.out {
		for j := range pr.out[i].fields {
			f := &pr.out[i].fields[j]
			f.value = strings.Join(append([]string{f.value}, f.more...), "\n")
			f.more = nil
		}
	}
	return pr.out, nil
}

// paragraphReader collects paragraphs line by line; open says whether the
// last paragraph of out is still being read.
type paragraphReader struct {
	file string
	out  []paragraph
	open bool
}

// add reads one line.
func (pr *paragraphReader) add(line string, n int) error {
	switch {
	case strings.HasPrefix(line, "#"):
		return nil
	case strings.TrimSpace(line) == "":
		pr.open = false
		return nil
	case line[0] == ' ' || line[0] == '\t':
		if !pr.open {
			return &SyntaxError{pr.file, n, "continuation line without a field before it"}
		}
		cur := &pr.out[len(pr.out)-1]
		f := &cur.fields[len(cur.fields)-1]
		f.more = append(f.more, strings.TrimSpace(line))
		return nil
	}
	return pr.addField(line, n)
}

// addField reads a "Name: value" line.
func (pr *paragraphReader) addField(line string, n int) error {
	name, value, ok := strings.Cut(line, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.ContainsAny(name, " \t") {
		return &SyntaxError{pr.file, n, fmt.Sprintf("%q is not a \"Field: value\" line (continuation lines start with a space)", truncate(line))}
	}
	if !pr.open {
		pr.out = append(pr.out, paragraph{line: n})
		pr.open = true
	}
	cur := &pr.out[len(pr.out)-1]
	if prev, dup := cur.get(name); dup {
		return &SyntaxError{pr.file, n, fmt.Sprintf("field %s repeated (first on line %d)", name, prev.line)}
	}
	cur.fields = append(cur.fields, field{name: name, value: strings.TrimSpace(value), line: n})
	return nil
}

// truncate shortens s for an error message.
func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}
