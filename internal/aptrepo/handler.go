package aptrepo

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// ErrNotFound says a namespace has no such repository (or the caller may
// not know of it).
var ErrNotFound = errors.New("no such apt repository")

// AnnotationPublish on an Application set to "public" makes its apt
// repository readable without credentials.
const AnnotationPublish = "kiln.dev/apt-repository"

// Spec is what one Application's repository is made of.
type Spec struct {
	// Namespace is the Application's namespace, whose key signs.
	Namespace Namespace
	// Public repositories are read without credentials.
	Public bool
	// Artifacts are the latest artifacts of the application's components,
	// pinned by digest.
	Artifacts []string
}

// Source looks repositories up and reads artifacts; the server implements
// it over its store and registry.
type Source interface {
	Repository(ctx context.Context, ns, app string) (Spec, error)
	FetchDebs(ctx context.Context, ref, dir string) ([]string, error)
}

// Publisher makes and keeps the repositories of Applications, one
// generation per set of artifacts, under Dir/NAMESPACE/UID/APP.
type Publisher struct {
	Source Source
	Keys   Keys
	Dir    string

	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// Repository is a published repository generation.
type Repository struct {
	Namespace, App string
	// Dir is the generation's tree; Older are previous generations, newest
	// first, still served for by-hash indices and pool files.
	Dir   string
	Older []string
	Meta  Meta
	// Fingerprint is the signing key's.
	Fingerprint string
	Public      bool
}

func (p *Publisher) lock(key string) func() {
	p.mu.Lock()
	if p.locks == nil {
		p.locks = map[string]*sync.Mutex{}
	}
	l, ok := p.locks[key]
	if !ok {
		l = &sync.Mutex{}
		p.locks[key] = l
	}
	p.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// appPattern is an Application name (a DNS-1123 subdomain).
var appPattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)

// Publish returns the current generation of ns/app's repository, making
// it when its artifacts changed.
func (p *Publisher) Publish(ctx context.Context, ns, app string, spec Spec) (*Repository, error) {
	if !nsPattern.MatchString(ns) || !appPattern.MatchString(app) || strings.Contains(app, "..") {
		return nil, ErrNotFound
	}
	if spec.Namespace.Name != ns {
		return nil, fmt.Errorf("repository %s/%s: the spec is namespace %q's", ns, app, spec.Namespace.Name)
	}
	signer, err := p.Keys.Signer(spec.Namespace)
	if err != nil {
		return nil, err
	}
	meta := Meta{Label: ns + "/" + app, Description: "Kiln application " + ns + "/" + app}.withDefaults()
	// Under the namespace's UID: a namespace created again under the same
	// name never serves the old one's generations.
	gens := Generations{Dir: filepath.Join(p.Dir, ns, spec.Namespace.UID, app)}
	defer p.lock(ns + "/" + app)()
	dir, err := gens.Ensure(generationKey(signer, meta, spec.Artifacts), func(dir string) error {
		return p.build(ctx, gens.Dir, dir, meta, spec.Artifacts, signer)
	})
	if err != nil {
		return nil, fmt.Errorf("publishing the apt repository of %s/%s: %w", ns, app, err)
	}
	repo := &Repository{Namespace: ns, App: app, Dir: dir, Fingerprint: signer.Fingerprint(), Public: spec.Public}
	repo.Meta, err = readMeta(dir, meta)
	if all, lerr := gens.List(); lerr == nil {
		repo.Older = slices.DeleteFunc(all, func(d string) bool { return d == dir })
	}
	return repo, err
}

// generationKey names a generation by everything it is made of (the date
// aside): the same artifacts and key give the same signed tree.
func generationKey(s *Signer, m Meta, artifacts []string) string {
	h := sha256.New()
	fmt.Fprintf(h, "kiln-apt-v1\n%s\n%s\n%s\n%s\n%s\n%s\n", s.Fingerprint(), m.Origin, m.Label, m.Suite, m.Component, strings.Join(m.Architectures, " "))
	sorted := slices.Sorted(slices.Values(artifacts))
	for _, a := range slices.Compact(sorted) {
		fmt.Fprintln(h, a)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// build fetches the artifacts' .debs into a staging directory beside the
// generations (hard links then place them in pool/) and writes the tree.
func (p *Publisher) build(ctx context.Context, root, dir string, meta Meta, artifacts []string, s *Signer) error {
	stage, err := os.MkdirTemp(root, tmpPrefix+"stage-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	var pkgs []Package
	for i, ref := range artifacts {
		files, err := p.Source.FetchDebs(ctx, ref, filepath.Join(stage, fmt.Sprint(i)))
		if err != nil {
			return err
		}
		for _, f := range files {
			pkg, err := ReadDeb(f)
			if err != nil {
				return &PackageError{fmt.Errorf("artifact %s: %w", ref, err)}
			}
			pkgs = append(pkgs, pkg)
		}
	}
	return Write(dir, meta, pkgs, s)
}

// readMeta reads the Architectures the generation's Release lists.
func readMeta(dir string, m Meta) (Meta, error) {
	b, err := os.ReadFile(filepath.Join(dir, "dists", m.Suite, "Release"))
	if err != nil {
		return m, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Architectures: "); ok {
			m.Architectures = strings.Fields(v)
		}
	}
	return m, nil
}

// IsEmpty reports an error that says the repository has no package yet.
func IsEmpty(err error) bool { return errors.Is(err, errNoPackages) }

// PackageError is a problem with the packages themselves (a malformed
// .deb, two different files for one package): the namespace's to fix, and
// safe to tell it (it names packages and artifacts, not server paths).
type PackageError struct{ Err error }

func (e *PackageError) Error() string { return e.Err.Error() }
func (e *PackageError) Unwrap() error { return e.Err }

// Problem is what a client may be told about err: a PackageError's text,
// otherwise ok is false (the server logs it).
func Problem(err error) (msg string, ok bool) {
	var pe *PackageError
	if errors.As(err, &pe) {
		return pe.Error(), true
	}
	return "", false
}

// Handler serves repositories over HTTP at Prefix/NAMESPACE/APP/…: the
// tree of the current generation, and by-hash indices and pool files of
// the previous ones (a client that read the previous InRelease still
// finds them). A repository that is not public is served only when
// Allowed accepts the request's credentials for its namespace; otherwise
// it does not exist.
type Handler struct {
	Prefix    string
	Publisher *Publisher
	Allowed   func(r *http.Request, ns string) bool
	Log       *slog.Logger
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "apt repositories are read only: use GET", http.StatusMethodNotAllowed)
		return
	}
	ns, app, file, ok := splitRepoPath(strings.TrimPrefix(r.URL.Path, h.Prefix))
	if !ok {
		http.NotFound(w, r)
		return
	}
	repo, err := h.repository(r, ns, app)
	if err != nil {
		h.writeError(w, ns, app, err)
		return
	}
	if file == "" {
		fmt.Fprintf(w, "# Kiln apt repository %s/%s (key %s)\ndeb [signed-by=/etc/apt/keyrings/kiln-%s.asc] %s %s %s\n",
			ns, app, repo.Fingerprint, ns, requestURL(r, h.Prefix, ns, app), repo.Meta.Suite, repo.Meta.Component)
		return
	}
	h.serveFile(w, r, repo, file)
}

// writeError answers a repository that cannot be served.
func (h *Handler) writeError(w http.ResponseWriter, ns, app string, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		http.Error(w, fmt.Sprintf("no apt repository %s/%s: the application does not exist, or it is not public "+
			"(annotation %s: public) and the request has no token that may read namespace %s", ns, app, AnnotationPublish, ns), http.StatusNotFound)
	case IsEmpty(err):
		http.Error(w, fmt.Sprintf("application %s/%s has no built Debian package yet", ns, app), http.StatusNotFound)
	default:
		if msg, ok := Problem(err); ok {
			http.Error(w, fmt.Sprintf("the apt repository %s/%s cannot be made: %s", ns, app, msg), http.StatusUnprocessableEntity)
			return
		}
		if h.Log != nil {
			h.Log.Error("apt repository", "namespace", ns, "app", app, "err", err)
		}
		http.Error(w, "the repository cannot be published now; the server log says why", http.StatusInternalServerError)
	}
}

func (h *Handler) repository(r *http.Request, ns, app string) (*Repository, error) {
	spec, err := h.Publisher.Source.Repository(r.Context(), ns, app)
	if err != nil {
		return nil, err
	}
	if !spec.Public && (h.Allowed == nil || !h.Allowed(r, ns)) {
		return nil, ErrNotFound
	}
	return h.Publisher.Publish(r.Context(), ns, app, spec)
}

// splitRepoPath splits NAMESPACE/APP[/FILE]; FILE is cleaned and never
// names a dot file or leaves the tree.
func splitRepoPath(p string) (ns, app, file string, ok bool) {
	parts := strings.SplitN(strings.TrimPrefix(p, "/"), "/", 3)
	if len(parts) < 2 || !nsPattern.MatchString(parts[0]) || !appPattern.MatchString(parts[1]) {
		return "", "", "", false
	}
	if len(parts) == 3 {
		file = strings.TrimPrefix(path.Clean("/"+parts[2]), "/")
	}
	for _, seg := range strings.Split(file, "/") {
		if strings.HasPrefix(seg, ".") {
			return "", "", "", false
		}
	}
	return parts[0], parts[1], file, true
}

// requestURL is the repository's URL as the client reached the server.
func requestURL(r *http.Request, prefix, ns, app string) string {
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	return scheme + "://" + r.Host + path.Join(prefix, ns, app)
}

// serveFile serves file from the current generation, or, for by-hash
// indices and pool files, from an older one.
func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request, repo *Repository, file string) {
	dirs := []string{repo.Dir}
	if strings.Contains(file, "/by-hash/") || strings.HasPrefix(file, "pool/") {
		dirs = append(dirs, repo.Older...)
	}
	for _, d := range dirs {
		if serveFrom(w, r, d, file) {
			return
		}
	}
	http.NotFound(w, r)
}

// serveFrom serves dir/file through an os.Root (no way out of dir) when it
// is a regular file.
func serveFrom(w http.ResponseWriter, r *http.Request, dir, file string) bool {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return false
	}
	defer root.Close()
	f, err := root.Open(filepath.FromSlash(file))
	if err != nil {
		return false
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		return false
	}
	http.ServeContent(w, r, "", info.ModTime(), f)
	return true
}
