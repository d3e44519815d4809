package sandbox

import (
	"io"
	"sync"
)

// output counts the bytes a step writes to stdout and stderr together, keeps
// at most limit of them, and calls exceeded once beyond that. It also keeps
// the tail of stderr for error messages when bwrap itself fails.
type output struct {
	mu       sync.Mutex
	limit, n int64
	exceeded func()
	tail     []byte
}

const tailSize = 1024

// writers wraps the step's writers; nil writers discard. When stdout and
// stderr are the same writer, one wrapper serves both so that os/exec uses a
// single pipe and keeps their order.
func (o *output) writers(stdout, stderr io.Writer) (io.Writer, io.Writer) {
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	if stdout == stderr {
		w := &limitedWriter{o: o, w: stdout, tail: true}
		return w, w
	}
	return &limitedWriter{o: o, w: stdout}, &limitedWriter{o: o, w: stderr, tail: true}
}

// take accounts for n more bytes and returns how many of them to keep.
func (o *output) take(p []byte, tail bool) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	if tail {
		o.tail = append(o.tail, p...)
		if len(o.tail) > tailSize {
			o.tail = append(o.tail[:0], o.tail[len(o.tail)-tailSize:]...)
		}
	}
	keep := min(int64(len(p)), max(o.limit-o.n, 0))
	o.n += int64(len(p))
	if o.n > o.limit && o.n-int64(len(p)) <= o.limit {
		o.exceeded()
	}
	return int(keep)
}

func (o *output) stderrTail() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return string(o.tail)
}

type limitedWriter struct {
	o    *output
	w    io.Writer
	tail bool
}

// Write keeps what the limit allows and silently drops the rest, so the
// copying goroutine drains the pipe until the step is killed.
func (l *limitedWriter) Write(p []byte) (int, error) {
	if keep := l.o.take(p, l.tail); keep > 0 {
		if _, err := l.w.Write(p[:keep]); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}
