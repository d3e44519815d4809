package apiserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/logstore"
	"github.com/kilnbuild/kiln/internal/registry"
)

// LogOpener opens logs for reading (logstore.Store); a log not written
// yet is an error satisfying errors.Is(err, fs.ErrNotExist).
type LogOpener interface {
	Open(k logstore.Key) (*os.File, error)
}

// logKinds are the kinds with a log subresource.
var logKinds = map[string]bool{"Build": true, "Release": true, "Snapshot": true}

// serveLog streams a log: GET …/builds/NAME/log[?follow=true] (with
// follow it keeps streaming until the build finishes),
// …/releases/NAME/log, …/snapshots/NAME/log?scenario=S.
func (s *Server) serveLog(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	if s.logs == nil || !logKinds[ri.Kind.Kind] {
		s.writeError(w, r, notFound(ri.Kind.Plural+" have no log"))
		return
	}
	part := r.URL.Query().Get("scenario")
	if ri.Kind.Kind == "Snapshot" && part == "" {
		s.writeError(w, r, badRequest("a snapshot has one log per integration test scenario: add ?scenario=NAME (kiln logs snapshot/"+ri.Name+" --scenario NAME)"))
		return
	}
	ri.Part = part
	if _, err := s.reg.Get(r.Context(), ri.Kind, ri.Namespace, ri.Name, registry.GetOptions{}); err != nil {
		s.writeError(w, r, err)
		return
	}
	follow := r.URL.Query().Get("follow") == "true"
	f, err := s.waitForLog(r.Context(), ri, follow)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	s.copyLog(r.Context(), w, f, ri, follow)
}

// waitForLog opens the log, waiting (when following) for a queued build to
// start writing it.
func (s *Server) waitForLog(ctx context.Context, ri requestInfo, follow bool) (*os.File, error) {
	for {
		f, err := s.logs.Open(logstore.Key{Kind: ri.Kind.Kind, Namespace: ri.Namespace, Name: ri.Name, Part: ri.Part})
		if err == nil || !errors.Is(err, os.ErrNotExist) {
			return f, err
		}
		if !follow || s.buildFinished(ctx, ri) {
			return nil, notFound(strings.ToLower(ri.Kind.Kind) + " " + ri.Name + " has no log yet: it has not started")
		}
		if !sleepCtx(ctx, 200*time.Millisecond) {
			return nil, ctx.Err()
		}
	}
}

func (s *Server) copyLog(ctx context.Context, w http.ResponseWriter, f *os.File, ri requestInfo, follow bool) {
	flusher, _ := w.(http.Flusher)
	buf := make([]byte, 32<<10)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
			continue
		}
		if err != nil && err != io.EOF {
			return
		}
		if !follow || s.buildFinished(ctx, ri) && drained(f) {
			return
		}
		if !sleepCtx(ctx, 150*time.Millisecond) {
			return
		}
	}
}

// drained reports whether nothing more can be read right now.
func drained(f *os.File) bool {
	st, err := f.Stat()
	if err != nil {
		return true
	}
	pos, err := f.Seek(0, io.SeekCurrent)
	return err != nil || pos >= st.Size()
}

func (s *Server) buildFinished(ctx context.Context, ri requestInfo) bool {
	obj, err := s.reg.Get(ctx, ri.Kind, ri.Namespace, ri.Name, registry.GetOptions{})
	if err != nil {
		return true
	}
	b, ok := obj.(*v1alpha1.Build)
	return !ok || b.Finished()
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// fileSubresources are the build sub-resources served from files.
var fileSubresources = map[string]bool{"log": true, "provenance": true, "sbom": true}

// serveEvidence serves a build's signed provenance statement (GET
// …/builds/NAME/provenance) or SBOM (…/sbom, ?format=spdx|cyclonedx).
func (s *Server) serveEvidence(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	if s.evPath == nil || ri.Kind.Kind != "Build" {
		s.writeError(w, r, notFound(ri.Kind.Plural+" have no "+ri.Subresource))
		return
	}
	file, ctype := "provenance.json", "application/vnd.in-toto+json"
	if ri.Subresource == "sbom" {
		switch f := r.URL.Query().Get("format"); f {
		case "", "spdx":
			file, ctype = "sbom.spdx.json", "application/spdx+json"
		case "cyclonedx":
			file, ctype = "sbom.cdx.json", "application/vnd.cyclonedx+json"
		default:
			s.writeError(w, r, badRequest(fmt.Sprintf("format %q: use spdx or cyclonedx", f)))
			return
		}
	}
	if _, err := s.reg.Get(r.Context(), ri.Kind, ri.Namespace, ri.Name, registry.GetOptions{}); err != nil {
		s.writeError(w, r, err)
		return
	}
	data, err := os.ReadFile(s.evPath(ri.Namespace, ri.Name, file))
	if errors.Is(err, os.ErrNotExist) {
		s.writeError(w, r, notFound("build "+ri.Name+" has no "+ri.Subresource+": only succeeded builds that pushed an artifact are signed"))
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}
