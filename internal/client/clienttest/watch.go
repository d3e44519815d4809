package clienttest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/kilnbuild/kiln/internal/client"
)

func (s *Server) watch(w http.ResponseWriter, r *http.Request, t *target) {
	q := r.URL.Query()
	s.mu.Lock()
	from, gone := s.watchStart(q.Get("resourceVersion"))
	goneHTTP, max := s.GoneAsHTTP, s.MaxEventsPerStream
	bookmarks := s.Bookmarks && q.Get("allowWatchBookmarks") == "true"
	s.mu.Unlock()
	if gone != nil && goneHTTP {
		writeError(w, gone)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(200)
	enc := json.NewEncoder(w)
	flush := func() {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
	if gone != nil {
		_ = enc.Encode(map[string]any{"type": "ERROR", "object": gone.status()})
		flush()
		return
	}
	sent := 0
	for {
		s.mu.Lock()
		var batch []event
		for _, ev := range s.log {
			if ev.rv > from && ev.plural == t.kind.Name && s.matches(t, ev.obj, q.Get("labelSelector"), q.Get("fieldSelector")) {
				batch = append(batch, ev)
			}
		}
		cur, wake := s.rv, s.wake
		s.mu.Unlock()
		for _, ev := range batch {
			var obj any = ev.obj
			if wantsTable(r) && !s.NoTables {
				s.mu.Lock()
				obj = s.table(t.kind, []client.Object{ev.obj}, "", ev.obj.ResourceVersion())
				s.mu.Unlock()
			}
			_ = enc.Encode(map[string]any{"type": ev.typ, "object": obj})
			flush()
			from = ev.rv
			if sent++; max > 0 && sent >= max {
				return
			}
		}
		if bookmarks && cur > from {
			from = cur
			_ = enc.Encode(map[string]any{"type": "BOOKMARK", "object": client.Object{
				"kind": t.kind.Kind, "apiVersion": t.kind.GroupVersion(),
				"metadata": map[string]any{"resourceVersion": strconv.FormatInt(cur, 10)}}})
			flush()
		}
		select {
		case <-wake:
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		case <-time.After(10 * time.Second):
			return
		}
	}
}

// watchStart parses the resourceVersion a watch starts from; callers hold
// mu. Versions older than the last Compact are Gone.
func (s *Server) watchStart(rv string) (int64, *statusError) {
	if rv == "" {
		return s.rv, nil
	}
	n, err := strconv.ParseInt(rv, 10, 64)
	if err != nil {
		return 0, errorf(400, "BadRequest", "invalid resourceVersion %q", rv)
	}
	if n < s.minRV {
		return 0, errorf(410, "Expired", "too old resource version: %d (%d)", n, s.minRV)
	}
	return n, nil
}

func (s *Server) tokenRequest(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Subject     string `json:"subject"`
		Description string `json:"description"`
		ExpiresIn   string `json:"expiresIn"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, errorf(400, "BadRequest", "invalid token request: %v", err))
		return
	}
	if req.Subject == "" {
		req.Subject = fmt.Sprint(s.WhoAmI["user"])
	}
	expires := ""
	if req.ExpiresIn != "" {
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil {
			writeError(w, errorf(400, "BadRequest", "expiresIn: %v", err))
			return
		}
		expires = s.Now().Add(d).UTC().Format(time.RFC3339)
	}
	s.mu.Lock()
	k := s.kind("tokens")
	name := fmt.Sprintf("tok-%d", s.seq+1)
	tok := client.Object{"metadata": map[string]any{"name": name},
		"spec": map[string]any{"subject": req.Subject, "description": req.Description, "expiresAt": expires}}
	_, err := s.create(k, "", tok)
	s.mu.Unlock()
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, 201, map[string]any{"name": name, "token": "kiln_secret_" + name, "subject": req.Subject, "expiresAt": expires})
}
