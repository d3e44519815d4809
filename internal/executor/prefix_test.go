package executor

import (
	"bytes"
	"testing"
)

// TestPrefixWriterKeepsBytes: every line gets the prefix and every byte of
// a step's output reaches the log as it was, also bytes that are not UTF-8
// and sequences split across writes.
func TestPrefixWriterKeepsBytes(t *testing.T) {
	t.Parallel()
	var log bytes.Buffer
	p := &prefixWriter{w: &log, prefix: "[t/s] "}
	for _, w := range []string{"caf\xc3", "\xa9\nbin \xff\xfe", "ary\n\nlast"} {
		if n, err := p.Write([]byte(w)); n != len(w) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", w, n, err)
		}
	}
	want := "[t/s] café\n[t/s] bin \xff\xfeary\n[t/s] \n[t/s] last"
	if log.String() != want {
		t.Fatalf("log %q, want %q", log.String(), want)
	}
}
