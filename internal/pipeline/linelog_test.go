package pipeline

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// pieceLog records what a lineWriter writes, one write per entry.
type pieceLog struct{ writes [][]byte }

func (p *pieceLog) Write(b []byte) (int, error) {
	p.writes = append(p.writes, bytes.Clone(b))
	return len(b), nil
}

// joined undoes the prefixing and splitting: each write is one line or a
// piece of one.
func (p *pieceLog) joined(t *testing.T, prefix string) string {
	t.Helper()
	var sb strings.Builder
	for _, w := range p.writes {
		s, ok := strings.CutPrefix(string(w), prefix)
		if !ok || !strings.HasSuffix(s, "\n") {
			t.Fatalf("write %q lacks the prefix %q or a newline", w, prefix)
		}
		if piece, split := strings.CutSuffix(s, LineSplitMarker+"\n"); split {
			s = piece
		}
		sb.WriteString(s)
	}
	return sb.String()
}

func newLineWriter(w *pieceLog, prefix string, max int) *lineWriter {
	return &lineWriter{mu: &sync.Mutex{}, w: w, prefix: prefix, max: max}
}

// TestLineWriterHundredMegabyteLine: a step printing one 100 MB line costs
// the writer at most MaxLogLine of buffer, writing it on in pieces that hold
// every byte.
func TestLineWriterHundredMegabyteLine(t *testing.T) { // not parallel: it counts allocations
	var counted countingLog
	l := &lineWriter{mu: &sync.Mutex{}, w: &counted, prefix: "[t/s] ", max: MaxLogLine}
	chunk := bytes.Repeat([]byte("a"), 32<<10) // what os/exec copies at a time
	const total = 100 << 20
	for n := 0; n < total; n += len(chunk) {
		if _, err := l.Write(chunk); err != nil {
			t.Fatal(err)
		}
		if cap(l.buf) > MaxLogLine {
			t.Fatalf("line buffer grew to %d bytes after %d written", cap(l.buf), n)
		}
	}
	l.Flush()
	if counted.bad != "" {
		t.Fatalf("a piece holds more than the line's bytes: %q", counted.bad)
	}
	if counted.bytes != total || counted.maxWrite > len("[t/s] ")+MaxLogLine+len(LineSplitMarker)+1 {
		t.Fatalf("log holds %d bytes of the line (want %d), largest write %d", counted.bytes, total, counted.maxWrite)
	}
	if want := total / MaxLogLine; counted.pieces != want {
		t.Fatalf("%d pieces, want %d", counted.pieces, want)
	}
	if allocs := testing.AllocsPerRun(50, func() { _, _ = l.Write(chunk) }); allocs != 0 {
		t.Fatalf("writing more of a long line allocates %.0f times per write", allocs)
	}
}

// countingLog checks the shape of each write and counts the line's bytes.
type countingLog struct {
	bytes, pieces, maxWrite int
	bad                     string
}

func (c *countingLog) Write(b []byte) (int, error) {
	c.maxWrite = max(c.maxWrite, len(b))
	s := strings.TrimPrefix(string(b), "[t/s] ")
	s = strings.TrimSuffix(strings.TrimSuffix(s, "\n"), LineSplitMarker)
	if strings.Trim(s, "a") != "" && c.bad == "" {
		c.bad = string(b[:min(len(b), 80)])
	}
	c.bytes += len(s)
	c.pieces++
	return len(b), nil
}

func TestLineWriterLines(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		writes []string
		want   []string
	}{
		{"lines across writes", []string{"one\ntw", "o\nthr", "ee"}, []string{"> one\n", "> two\n", "> three\n"}},
		{"exactly max then newline", []string{"12345678\n"}, []string{"> 12345678\n"}},
		{"one over max", []string{"123456789\n"}, []string{"> 12345678⏎\n", "> 9\n"}},
		{"long line in small writes", []string{"1234", "5678", "90ab", "cdef", "gh"}, []string{"> 12345678⏎\n", "> 90abcdef⏎\n", "> gh\n"}},
		{"no split inside a UTF-8 sequence", []string{"123456é8\n"}, []string{"> 123456é⏎\n", "> 8\n"}},
		{"sequence straddling the cut", []string{"1234567é\n"}, []string{"> 1234567⏎\n", "> é\n"}},
		{"sequence split across writes", []string{"1234567\xc3", "\xa9x\n"}, []string{"> 1234567⏎\n", "> éx\n"}},
		{"invalid bytes kept as they are", []string{"\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7\n"}, []string{"> \xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8⏎\n", "> \xf7\n"}},
	} {
		var log pieceLog
		l := newLineWriter(&log, "> ", 8)
		for _, w := range tc.writes {
			if n, err := l.Write([]byte(w)); n != len(w) || err != nil {
				t.Fatalf("%s: Write = %d, %v", tc.name, n, err)
			}
		}
		l.Flush()
		var got []string
		for _, w := range log.writes {
			got = append(got, string(w))
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s:\ngot  %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

// FuzzLineWriter: whatever a step prints, in whatever chunks, every write
// is one bounded line or piece, valid UTF-8 stays valid in every piece, and
// the log gives back every byte.
func FuzzLineWriter(f *testing.F) {
	f.Add([]byte("hello\nworld"), uint8(3), uint8(8))
	f.Add([]byte("ééééééééé\n\n\nxyz"), uint8(1), uint8(4))
	f.Add(bytes.Repeat([]byte("0123456789"), 20), uint8(7), uint8(16))
	f.Add([]byte("\xe2\x8f\x8e\xe2\x8f\n\xff"), uint8(2), uint8(5))
	f.Fuzz(func(t *testing.T, data []byte, chunk, max uint8) {
		if bytes.Contains(data, []byte(LineSplitMarker)) {
			return // a line ending in the marker itself cannot be told from a split
		}
		limit := utf8.UTFMax + int(max)%64
		var log pieceLog
		l := newLineWriter(&log, "[p] ", limit)
		step := 1 + int(chunk)%32
		for rest := data; len(rest) > 0; rest = rest[min(step, len(rest)):] {
			if n, err := l.Write(rest[:min(step, len(rest))]); err != nil || n != min(step, len(rest)) {
				t.Fatalf("Write = %d, %v", n, err)
			}
		}
		l.Flush()
		checkPieces(t, &log, limit, utf8.Valid(data))
		want := string(data)
		if len(data) > 0 && !bytes.HasSuffix(data, []byte("\n")) {
			want += "\n"
		}
		if got := log.joined(t, "[p] "); got != want {
			t.Fatalf("log gives back\n%q\nwant\n%q", got, want)
		}
	})
}

func checkPieces(t *testing.T, log *pieceLog, limit int, valid bool) {
	t.Helper()
	for _, w := range log.writes {
		if len(w) > len("[p] ")+limit+len(LineSplitMarker)+1 {
			t.Fatalf("write of %d bytes exceeds the limit %d", len(w), limit)
		}
		if valid && !utf8.Valid(w) {
			t.Fatalf("piece %q splits a UTF-8 sequence", w)
		}
	}
}
