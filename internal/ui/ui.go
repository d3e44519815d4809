// Package ui serves Kiln's web UI: the single-page application built from
// web/ by scripts/ui-build.sh into dist/ (committed, so `go build` needs no
// Node.js) and embedded in the binary. Hashed assets are cached for a
// year; index.html, served for every other path (the page routes in the
// browser), is never cached. Every response carries a strict
// Content-Security-Policy: scripts and styles only from this origin, no
// inline code, no eval, requests only to this origin.
package ui

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed all:dist
var dist embed.FS

// CSP is the Content-Security-Policy of every UI response.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Handler serves the UI.
func Handler() http.Handler {
	root, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embed pattern guarantees dist exists
	}
	return &handler{root: root, files: http.FileServerFS(root)}
}

type handler struct {
	root  fs.FS
	files http.Handler
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", CSP)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "the web UI only serves GET", http.StatusMethodNotAllowed)
		return
	}
	p := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if strings.HasPrefix(p, "assets/") {
		if _, err := fs.Stat(h.root, p); err != nil {
			http.NotFound(w, r)
			return
		}
		hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
		h.files.ServeHTTP(w, r)
		return
	}
	if p != "" && p != "index.html" && isFile(h.root, p) {
		hdr.Set("Cache-Control", "no-cache")
		h.files.ServeHTTP(w, r)
		return
	}
	h.index(w, r)
}

// index serves index.html for the page's own routes.
func (h *handler) index(w http.ResponseWriter, r *http.Request) {
	b, err := fs.ReadFile(h.root, "index.html")
	if err != nil {
		http.Error(w, "the web UI was not built into this binary: run scripts/ui-build.sh", http.StatusNotFound)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(b)
}

func isFile(root fs.FS, p string) bool {
	st, err := fs.Stat(root, p)
	return err == nil && !st.IsDir()
}
