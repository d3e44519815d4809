package clienttest

import (
	"net/http"
	"strings"
	"sync"
)

// RequestLog records the requests a server receives, real or fake.
type RequestLog struct {
	mu   sync.Mutex
	reqs []string
}

// Record returns h, logging each request first.
func (l *RequestLog) Record(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.reqs = append(l.reqs, r.Method+" "+r.URL.RequestURI())
		l.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// Requests returns "METHOD /path?query" of every request so far.
func (l *RequestLog) Requests() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.reqs...)
}

// CountRequests counts requests with the method whose path starts with
// prefix.
func (l *RequestLog) CountRequests(method, prefix string) int {
	n := 0
	for _, r := range l.Requests() {
		if strings.HasPrefix(r, method+" "+prefix) {
			n++
		}
	}
	return n
}
