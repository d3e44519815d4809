package apiserver

import "net/http"

// serveOpenAPI answers OpenAPI discovery. Kiln does not publish OpenAPI
// schemas yet, so kubectl falls back to server-side validation (the server
// rejects unknown fields itself).
func (s *Server) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, notFound("OpenAPI documents are not published yet; the server validates every object strictly"))
}
