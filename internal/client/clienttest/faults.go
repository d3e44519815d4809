package clienttest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
)

// Faults wraps a server, the real one or the fake, to misbehave as
// networks and other servers do, for tests of how the client recovers. Its
// settings may change between requests.
type Faults struct {
	mu         sync.Mutex
	noTables   bool
	maxEvents  int
	goneAsHTTP bool
	injected   []string
}

// Injected lists the faults injected so far ("410 GET /path?query",
// "cut GET /path?query"), so that a test can tell they happened.
func (f *Faults) Injected() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.injected...)
}

func (f *Faults) note(what string, r *http.Request) {
	f.set(func() { f.injected = append(f.injected, what+" "+r.Method+" "+r.URL.RequestURI()) })
}

// SetNoTables makes the server ignore as=Table (plain lists come back), as
// servers without table support do.
func (f *Faults) SetNoTables(on bool) { f.set(func() { f.noTables = on }) }

// SetMaxEventsPerStream closes each watch stream after n events (0: never),
// as a proxy dropping long connections does.
func (f *Faults) SetMaxEventsPerStream(n int) { f.set(func() { f.maxEvents = n }) }

// SetGoneAsHTTP answers a watch from a compacted resourceVersion with an
// HTTP 410 instead of an ERROR event, as some servers do.
func (f *Faults) SetGoneAsHTTP(on bool) { f.set(func() { f.goneAsHTTP = on }) }

func (f *Faults) set(change func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change()
}

// Wrap returns h with the faults applied.
func (f *Faults) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		noTables, maxEvents, goneAsHTTP := f.noTables, f.maxEvents, f.goneAsHTTP
		f.mu.Unlock()
		if noTables {
			r.Header.Set("Accept", strings.ReplaceAll(r.Header.Get("Accept"), "as=Table", "as=None"))
		}
		if r.URL.Query().Get("watch") != "true" {
			h.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		sw := &faultyStream{w: w, left: maxEvents, gone: goneAsHTTP, cancel: cancel,
			note: func(what string) { f.note(what, r) }}
		h.ServeHTTP(sw, r.WithContext(ctx))
		sw.finish()
	})
}

// faultyStream passes a watch stream through, ending it after a number of
// events, or turning a first ERROR event 410 into an HTTP 410.
type faultyStream struct {
	w      http.ResponseWriter
	left   int  // events still passed; 0 with limit unset means no limit
	gone   bool // hold the header until the first event shows whether it is Gone
	code   int  // the held status code
	ended  bool
	cancel context.CancelFunc
	note   func(string)
}

func (s *faultyStream) Header() http.Header { return s.w.Header() }

func (s *faultyStream) WriteHeader(code int) {
	if s.gone {
		s.code = code
		return
	}
	s.w.WriteHeader(code)
}

func (s *faultyStream) Flush() {
	if f, ok := s.w.(http.Flusher); ok && !s.gone && !s.ended {
		f.Flush()
	}
}

func (s *faultyStream) Write(p []byte) (int, error) {
	n := len(p)
	if s.ended {
		return n, nil
	}
	if s.gone && s.answerGone(p) {
		return n, nil
	}
	if s.left > 0 {
		p = s.cut(p)
	}
	_, err := s.w.Write(p)
	return n, err
}

// answerGone decides on the first write whether the stream is a Gone
// error, and if so answers it as HTTP.
func (s *faultyStream) answerGone(p []byte) bool {
	s.gone = false
	var ev struct {
		Type   string          `json:"type"`
		Object json.RawMessage `json:"object"`
	}
	line, _, _ := bytes.Cut(p, []byte("\n"))
	if json.Unmarshal(line, &ev) != nil || ev.Type != "ERROR" || !bytes.Contains(ev.Object, []byte(`"code":410`)) {
		s.finish()
		return false
	}
	s.code = 0
	s.w.Header().Set("Content-Type", "application/json")
	s.w.WriteHeader(http.StatusGone)
	_, _ = s.w.Write(ev.Object)
	s.note("410")
	s.end()
	return true
}

// cut passes the events p holds until the limit, then ends the stream.
func (s *faultyStream) cut(p []byte) []byte {
	for i, b := range p {
		if b != '\n' {
			continue
		}
		if s.left--; s.left == 0 {
			s.note("cut")
			s.end()
			return p[:i+1]
		}
	}
	return p
}

func (s *faultyStream) end() {
	s.ended = true
	s.cancel()
}

// finish writes a header still held.
func (s *faultyStream) finish() {
	if s.code != 0 {
		s.w.WriteHeader(s.code)
		s.code = 0
	}
}
