package pipeline

import (
	"bytes"
	"io"
	"sync"
	"unicode/utf8"
)

// MaxLogLine bounds how much of one line of a step's output is held back
// waiting for its newline. A longer line is written in pieces of at most
// MaxLogLine bytes (never splitting a UTF-8 sequence), each piece but the
// last ending with LineSplitMarker, so the memory a running step costs the
// server does not grow with what it prints.
const MaxLogLine = 64 << 10

// LineSplitMarker ends every piece of a line longer than MaxLogLine; the
// next piece follows on the next log line, after the step's prefix.
// Removing the marker, its newline and the next line's prefix gives the
// line back.
const LineSplitMarker = "⏎"

// lineWriter prefixes each line written to w; writers of one run share mu
// so that lines of parallel steps do not mix. It holds at most MaxLogLine
// bytes of the current line.
type lineWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string
	max    int    // MaxLogLine; smaller in tests
	buf    []byte // the current line, without its newline
	out    []byte // one line or piece as written to w
}

// stepLog returns the writer of one step's output.
func (e *executor) stepLog(task, step string) *lineWriter {
	if e.opts.StepLog != nil {
		return &lineWriter{mu: &sync.Mutex{}, w: e.opts.StepLog(task, step), max: MaxLogLine}
	}
	return &lineWriter{mu: &e.logMu, w: e.opts.Log, prefix: "[" + task + "/" + step + "] ", max: MaxLogLine}
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf == nil {
		l.buf = make([]byte, 0, l.max)
	}
	n := len(p)
	for len(p) > 0 {
		rest, err := l.consume(p)
		if err != nil {
			return n - len(rest), err
		}
		p = rest
	}
	return n, nil
}

// consume adds the start of p to the current line, writes the line out
// when it ends or is full, and returns what is left of p.
func (l *lineWriter) consume(p []byte) ([]byte, error) {
	room := l.max - len(l.buf)
	if i := bytes.IndexByte(p[:min(len(p), room+1)], '\n'); i >= 0 {
		l.buf = append(l.buf, p[:i]...)
		return p[i+1:], l.emit("\n")
	}
	if len(p) <= room {
		l.buf = append(l.buf, p...)
		return nil, nil
	}
	l.buf = append(l.buf, p[:room]...)
	return p[room:], l.split()
}

// split writes the full buffer as one piece of a longer line, keeping an
// incomplete UTF-8 sequence at its end for the next piece.
func (l *lineWriter) split() error {
	cut := runeCut(l.buf)
	var tail [utf8.UTFMax]byte
	k := copy(tail[:], l.buf[cut:])
	l.buf = l.buf[:cut]
	err := l.emit(LineSplitMarker + "\n")
	l.buf = append(l.buf, tail[:k]...)
	return err
}

// emit writes the prefix, the buffered line and end, and empties the
// buffer.
func (l *lineWriter) emit(end string) error {
	l.out = append(append(append(l.out[:0], l.prefix...), l.buf...), end...)
	l.buf = l.buf[:0]
	_, err := l.w.Write(l.out)
	return err
}

// runeCut returns where to cut b so that a UTF-8 sequence left incomplete
// at its end is not split: len(b) unless b ends inside a sequence.
func runeCut(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if utf8.FullRune(b[i:]) {
				return len(b)
			}
			return i
		}
	}
	return len(b)
}

// Flush writes a last line without a newline.
func (l *lineWriter) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		_ = l.emit("\n")
	}
}
