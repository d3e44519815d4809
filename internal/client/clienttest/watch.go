package clienttest

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/kilnbuild/kiln/internal/client"
)

func (s *Server) watch(w http.ResponseWriter, r *http.Request, t *target) {
	q := r.URL.Query()
	from, err := s.watchStart(q.Get("resourceVersion"))
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(200)
	enc := json.NewEncoder(w)
	for {
		batch, wake := s.eventsAfter(from, t, q.Get("labelSelector"), q.Get("fieldSelector"))
		for _, ev := range batch {
			var obj any = ev.obj
			if wantsTable(r) {
				s.mu.Lock()
				obj = s.table(t.kind, []client.Object{ev.obj}, "", ev.obj.ResourceVersion())
				s.mu.Unlock()
			}
			_ = enc.Encode(map[string]any{"type": ev.typ, "object": obj})
			from = ev.rv
		}
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		select {
		case <-wake:
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		}
	}
}

// eventsAfter returns the matching events after rv, and a channel closed
// at the next write.
func (s *Server) eventsAfter(rv int64, t *target, labels, fields string) ([]event, chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var batch []event
	for _, ev := range s.log {
		if ev.rv > rv && ev.plural == t.kind.Name && s.matches(t, ev.obj, labels, fields) {
			batch = append(batch, ev)
		}
	}
	return batch, s.wake
}

// watchStart parses the resourceVersion a watch starts from.
func (s *Server) watchStart(rv string) (int64, error) {
	if rv == "" {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.rv, nil
	}
	n, err := strconv.ParseInt(rv, 10, 64)
	if err != nil {
		return 0, errorf(400, "BadRequest", "invalid resourceVersion %q", rv)
	}
	return n, nil
}
