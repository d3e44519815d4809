package bench

import (
	"bytes"
	"io"
	"os"
	"regexp"
	"strconv"
)

// GCSample is the last garbage collection the server's runtime logged
// (GODEBUG=gctrace=1), in whole MiB as the runtime prints them.
type GCSample struct {
	// HeapMiB is the live heap the collection left.
	HeapMiB float64 `json:"heapLiveMiB"`
	// StacksMiB is the goroutines' stacks: what leaked goroutines grow.
	StacksMiB float64 `json:"stacksMiB"`
	// GCs counts collections so far.
	GCs int `json:"gcs"`
}

// gcLine matches a gctrace line: "gc 12 @3.1s 2%: … ms cpu, 9->9->5 MB,
// 10 MB goal, 0 MB stacks, …".
var gcLine = regexp.MustCompile(`^gc (\d+) @.* \d+->\d+->(\d+) MB, \d+ MB goal, (\d+) MB stacks`)

// gcTrace follows the gctrace lines of the server's log.
type gcTrace struct {
	path string
	off  int64
	last GCSample
}

// read consumes the complete lines added since the last read and returns
// the latest collection.
func (g *gcTrace) read() GCSample {
	f, err := os.Open(g.path)
	if err != nil {
		return g.last
	}
	defer f.Close()
	if _, err := f.Seek(g.off, io.SeekStart); err != nil {
		return g.last
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return g.last
	}
	end := bytes.LastIndexByte(data, '\n')
	if end < 0 {
		return g.last
	}
	g.off += int64(end + 1)
	for _, line := range bytes.Split(data[:end], []byte{'\n'}) {
		if m := gcLine.FindSubmatch(line); m != nil {
			n, _ := strconv.Atoi(string(m[1]))
			g.last = GCSample{GCs: n, HeapMiB: atof(string(m[2])), StacksMiB: atof(string(m[3]))}
		}
	}
	return g.last
}
