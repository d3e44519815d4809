package oci

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// maxManifestSize matches distribution's limit on manifest bodies.
const maxManifestSize = 4 << 20

// referrerIndex records, per repository and subject digest, the descriptors
// of the manifests that name that subject. It lives beside distribution's
// storage: <dir>/<repo>/_subjects/<alg>-<hex>/<alg>-<hex>.json (a path
// component never starts with "_", so names cannot collide).
type referrerIndex struct {
	dir  string
	sync bool // fsync entries (off with Config.NoSync)
}

func fileKey(d digest.Digest) string { return d.Algorithm().String() + "-" + d.Encoded() }

func (x *referrerIndex) subjectDir(repo string, subject digest.Digest) string {
	return filepath.Join(x.dir, filepath.FromSlash(repo), "_subjects", fileKey(subject))
}

func (x *referrerIndex) add(repo string, subject digest.Digest, d ocispec.Descriptor) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	path := filepath.Join(x.subjectDir(repo, subject), fileKey(d.Digest)+".json")
	return writeFileAtomic(path, b, 0o600, x.sync)
}

// remove forgets a deleted manifest under every subject it referred to.
func (x *referrerIndex) remove(repo string, d digest.Digest) error {
	pattern := filepath.Join(x.dir, filepath.FromSlash(repo), "_subjects", "*", fileKey(d)+".json")
	matches, err := filepath.Glob(pattern)
	if err != nil {
		return err
	}
	for _, m := range matches {
		if err := os.Remove(m); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// list returns the referrers of subject, sorted by digest, keeping only the
// given artifact types when any are given.
func (x *referrerIndex) list(repo string, subject digest.Digest, types []string) ([]ocispec.Descriptor, error) {
	dir := x.subjectDir(repo, subject)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return []ocispec.Descriptor{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := []ocispec.Descriptor{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		var d ocispec.Descriptor
		if err := json.Unmarshal(b, &d); err != nil {
			return nil, fmt.Errorf("decoding referrer %s: %w", e.Name(), err)
		}
		if len(types) == 0 || slices.Contains(types, d.ArtifactType) {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b ocispec.Descriptor) int { return strings.Compare(string(a.Digest), string(b.Digest)) })
	return out, nil
}

// serveReferrers answers GET /v2/<name>/referrers/<digest>.
func (r *Registry) serveReferrers(w http.ResponseWriter, req *http.Request, rt route) {
	subject, err := digest.Parse(rt.ref)
	if err != nil {
		writeRegistryError(w, http.StatusBadRequest, "DIGEST_INVALID", "invalid digest "+rt.ref+": "+err.Error())
		return
	}
	types := req.URL.Query()["artifactType"]
	descs, err := r.referrers.list(rt.repo, subject, types)
	if err != nil {
		r.log.Error("listing referrers", "repo", rt.repo, "subject", subject, "err", err)
		writeRegistryError(w, http.StatusInternalServerError, "UNKNOWN", "listing referrers failed")
		return
	}
	body, _ := json.Marshal(ocispec.Index{
		Versioned: specsV2, MediaType: ocispec.MediaTypeImageIndex, Manifests: descs,
	})
	w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if len(types) > 0 {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	w.WriteHeader(http.StatusOK)
	if req.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// subjectOf is the part of a manifest the referrers index needs.
type subjectOf struct {
	MediaType    string              `json:"mediaType"`
	ArtifactType string              `json:"artifactType"`
	Config       *ocispec.Descriptor `json:"config"`
	Subject      *ocispec.Descriptor `json:"subject"`
	Annotations  map[string]string   `json:"annotations"`
}

// referrerDescriptor describes body if it names a subject (nil otherwise).
func referrerDescriptor(body []byte, contentType string) (*subjectOf, ocispec.Descriptor) {
	var m subjectOf
	if json.Unmarshal(body, &m) != nil || m.Subject == nil || m.Subject.Digest.Validate() != nil {
		return nil, ocispec.Descriptor{}
	}
	d := ocispec.Descriptor{
		MediaType:    cmpOr(m.MediaType, contentType),
		Size:         int64(len(body)),
		ArtifactType: m.ArtifactType,
		Annotations:  m.Annotations,
	}
	if d.ArtifactType == "" && m.Config != nil {
		d.ArtifactType = m.Config.MediaType
	}
	return &m, d
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// serveManifestWrite passes a manifest PUT or DELETE to distribution and
// keeps the referrers index in step with what distribution accepted.
func (r *Registry) serveManifestWrite(w http.ResponseWriter, req *http.Request, rt route) {
	if req.Method == http.MethodDelete {
		hw := &hookWriter{ResponseWriter: w, hook: func(code int) {
			if d, err := digest.Parse(rt.ref); err == nil && code == http.StatusAccepted {
				if err := r.referrers.remove(rt.repo, d); err != nil {
					r.log.Error("forgetting referrer", "repo", rt.repo, "digest", d, "err", err)
				}
			}
		}}
		r.next.ServeHTTP(hw, req)
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxManifestSize+1))
	if err != nil {
		writeRegistryError(w, http.StatusBadRequest, "MANIFEST_INVALID", "reading manifest: "+err.Error())
		return
	}
	if err := checkManifest(body); err != nil {
		writeRegistryError(w, http.StatusBadRequest, "MANIFEST_INVALID", "manifest invalid: "+err.Error())
		return
	}
	req.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), req.Body))
	m, desc := referrerDescriptor(body, req.Header.Get("Content-Type"))
	if m == nil || len(body) > maxManifestSize {
		r.next.ServeHTTP(w, req)
		return
	}
	hw := &hookWriter{ResponseWriter: w, hook: func(code int) { r.recordReferrer(w, rt, m, desc, code) }}
	r.next.ServeHTTP(hw, req)
}

// recordReferrer runs just before distribution answers a manifest PUT.
func (r *Registry) recordReferrer(w http.ResponseWriter, rt route, m *subjectOf, desc ocispec.Descriptor, code int) {
	if code != http.StatusCreated {
		return
	}
	d, err := digest.Parse(w.Header().Get("Docker-Content-Digest"))
	if err != nil {
		r.log.Error("manifest stored without a digest header", "repo", rt.repo, "err", err)
		return
	}
	desc.Digest = d
	if err := r.referrers.add(rt.repo, m.Subject.Digest, desc); err != nil {
		r.log.Error("recording referrer", "repo", rt.repo, "digest", d, "err", err)
		return
	}
	w.Header().Set("OCI-Subject", m.Subject.Digest.String())
}

// hookWriter calls hook once, with the status code, before the response
// header is written.
type hookWriter struct {
	http.ResponseWriter
	hook func(code int)
	done bool
}

func (h *hookWriter) WriteHeader(code int) {
	if !h.done {
		h.done = true
		h.hook(code)
	}
	h.ResponseWriter.WriteHeader(code)
}

func (h *hookWriter) Write(b []byte) (int, error) {
	if !h.done {
		h.WriteHeader(http.StatusOK)
	}
	return h.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (h *hookWriter) Unwrap() http.ResponseWriter { return h.ResponseWriter }
