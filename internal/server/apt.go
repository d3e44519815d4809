package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/apiserver"
	"github.com/kilnbuild/kiln/internal/aptrepo"
	"github.com/kilnbuild/kiln/internal/auth"
	"github.com/kilnbuild/kiln/internal/pipelinerun"
	"github.com/kilnbuild/kiln/internal/registry"
)

// Routes of apt repositories: the repositories themselves (apt reads
// them, publicly when the Application says so), and what `kiln repo show`
// and `kiln keys public --format openpgp` ask (with a token).
const (
	aptPrefix      = "/apt/"
	aptInfoPrefix  = "/apt-repositories/"
	openpgpPrefix  = "/openpgp-keys/"
	openpgpKeysDir = "openpgp"
)

// aptSource finds an Application's Debian artifacts: the latest artifact
// of each of its components, read with Kiln's own registry credentials,
// and only from the namespace's own repositories.
type aptSource struct {
	reg  *registry.Registry
	runs *pipelinerun.Runner
}

func (s aptSource) Repository(ctx context.Context, ns, app string) (aptrepo.Spec, error) {
	id, err := liveNamespace(ctx, s.reg, ns)
	if err != nil {
		return aptrepo.Spec{}, err
	}
	a, err := registry.Get[v1alpha1.Application](ctx, s.reg, ns, app)
	if apierrors.IsNotFound(err) {
		return aptrepo.Spec{}, aptrepo.ErrNotFound
	}
	if err != nil {
		return aptrepo.Spec{}, err
	}
	comps, err := registry.List[v1alpha1.Component](ctx, s.reg, registry.ListOptions{Namespace: ns})
	if err != nil {
		return aptrepo.Spec{}, err
	}
	spec := aptrepo.Spec{Namespace: id, Public: a.GetAnnotations()[aptrepo.AnnotationPublish] == "public"}
	for _, c := range comps {
		ref := c.Status.LatestArtifactRef
		if c.Spec.Application == app && ref != "" && s.ownedBy(ref, ns) {
			spec.Artifacts = append(spec.Artifacts, ref)
		}
	}
	return spec, nil
}

// ownedBy reports whether ref is in one of namespace ns's repositories of
// the registries builds push to: Kiln's credentials read every namespace,
// so a ref naming another one is never followed.
func (s aptSource) ownedBy(ref, ns string) bool {
	return s.runs.Owns(ref, ns)
}

func (s aptSource) FetchDebs(ctx context.Context, ref, dir string) ([]string, error) {
	return aptrepo.FetchDebs(ctx, ref, s.runs.RemoteFor(ref), dir)
}

// mountApt serves apt repositories at /apt/NAMESPACE/APP/, their
// descriptions at /apt-repositories/NAMESPACE/APP and namespace keys at
// /openpgp-keys/NAMESPACE.
func (f *Factory) mountApt(api *apiserver.Server, authn *auth.Authenticator, authz *auth.Authorizer, runs *pipelinerun.Runner) {
	f.apt = &aptrepo.Publisher{Source: aptSource{reg: f.Registry, runs: runs},
		Keys: f.aptKeys(), Dir: f.shared("apt")}
	readers := aptReaders{authn: authn, authz: authz}
	api.Handle(aptPrefix, &aptrepo.Handler{Prefix: strings.TrimSuffix(aptPrefix, "/"), Publisher: f.apt,
		Allowed: readers.allowed, Log: f.cfg.Log}, true)
	api.Handle(aptInfoPrefix, http.HandlerFunc(f.serveAptInfo), false)
	api.Handle(openpgpPrefix, http.HandlerFunc(f.serveOpenPGPKey), false)
}

// aptKeys are the namespaces' repository signing keys, beside the
// builder's key.
func (f *Factory) aptKeys() aptrepo.Keys {
	return aptrepo.Keys{Dir: filepath.Join(f.shared("signing"), openpgpKeysDir)}
}

// liveNamespace identifies namespace ns by name and UID; a namespace
// that does not exist or is being deleted has no repositories and no key
// (aptrepo.ErrNotFound), so nothing recreates a key while it is purged.
func liveNamespace(ctx context.Context, reg *registry.Registry, ns string) (aptrepo.Namespace, error) {
	obj, err := reg.Get(ctx, v1alpha1.MustLookup("Namespace"), "", ns, registry.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return aptrepo.Namespace{}, aptrepo.ErrNotFound
	case err != nil:
		return aptrepo.Namespace{}, err
	case obj.GetDeletionTimestamp() != nil:
		return aptrepo.Namespace{}, aptrepo.ErrNotFound
	}
	return aptrepo.Namespace{Name: ns, UID: string(obj.GetUID())}, nil
}

// aptSigner is namespace ns's repository key.
func (f *Factory) aptSigner(ctx context.Context, ns string) (*aptrepo.Signer, error) {
	id, err := liveNamespace(ctx, f.Registry, ns)
	if err != nil {
		return nil, fmt.Errorf("repository key of namespace %s: %w", ns, err)
	}
	return f.aptKeys().Signer(id)
}

// aptReaders decides who reads a repository that is not public: a Kiln
// token (Bearer, or as the password of HTTP basic auth, which apt's
// auth.conf sends) allowed to read the namespace's Applications.
type aptReaders struct {
	authn *auth.Authenticator
	authz *auth.Authorizer
}

func (a aptReaders) allowed(r *http.Request, ns string) bool {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		_, token, ok = r.BasicAuth()
	}
	if !ok || token == "" {
		return false
	}
	id, err := a.authn.Authenticate(r.Context(), strings.TrimSpace(token))
	if err != nil {
		return false
	}
	return canRead(r.Context(), a.authz, id, ns)
}

func canRead(ctx context.Context, authz *auth.Authorizer, id *auth.Identity, ns string) bool {
	d, err := authz.Authorize(ctx, id, auth.Attributes{Verb: auth.VerbGet, Kind: "Application", Namespaced: true, Namespace: ns})
	return err == nil && d.Allowed
}

func (f *Factory) serveAptInfo(w http.ResponseWriter, r *http.Request) {
	ns, app, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, aptInfoPrefix), "/")
	id := apiserver.IdentityFrom(r.Context())
	if !ok || id == nil || !canRead(r.Context(), f.authz, id, ns) {
		writeStatus(w, http.StatusNotFound, fmt.Sprintf("no application %s/%s that this token may read", ns, app))
		return
	}
	spec, err := f.apt.Source.Repository(r.Context(), ns, app)
	if errors.Is(err, aptrepo.ErrNotFound) {
		writeStatus(w, http.StatusNotFound, fmt.Sprintf("application %s/%s does not exist", ns, app))
		return
	}
	if err != nil {
		writeStatus(w, http.StatusInternalServerError, err.Error())
		return
	}
	out, err := f.aptInfo(r, ns, app, spec)
	if msg, ok := aptrepo.Problem(err); ok {
		writeStatus(w, http.StatusUnprocessableEntity, msg)
		return
	}
	if err != nil {
		f.cfg.Log.Error("apt repository", "namespace", ns, "app", app, "err", err)
		writeStatus(w, http.StatusInternalServerError, "the repository cannot be published now; the server log says why")
		return
	}
	writeJSON(w, out)
}

func (f *Factory) aptInfo(r *http.Request, ns, app string, spec aptrepo.Spec) (aptrepo.Info, error) {
	base := "https://" + r.Host + aptPrefix + ns + "/" + app
	out := aptrepo.Info{Namespace: ns, Application: app, URL: base, Suite: aptrepo.DefaultSuite,
		Components: []string{aptrepo.DefaultComponent}, Architectures: []string{aptrepo.HostArch()}, Public: spec.Public, KeyURL: base + "/" + aptrepo.KeyFile}
	repo, err := f.apt.Publish(r.Context(), ns, app, spec)
	switch {
	case aptrepo.IsEmpty(err):
		out.Note = "no component of the application has a built Debian package yet"
		s, kerr := f.aptSigner(r.Context(), ns)
		if kerr != nil {
			return out, kerr
		}
		out.Fingerprint = s.Fingerprint()
	case err != nil:
		return out, err
	default:
		out.Architectures, out.Fingerprint = repo.Meta.Architectures, repo.Fingerprint
	}
	if !spec.Public {
		out.Note = strings.TrimPrefix(out.Note+"; ", "; ") + "not public: apt needs a token in /etc/apt/auth.conf.d, or annotate the application " + aptrepo.AnnotationPublish + "=public"
	}
	out.SourcesLine = fmt.Sprintf("deb [signed-by=/etc/apt/keyrings/kiln-%s.asc] %s %s %s", ns, base, out.Suite, strings.Join(out.Components, " "))
	return out, nil
}

func (f *Factory) serveOpenPGPKey(w http.ResponseWriter, r *http.Request) {
	ns := strings.TrimPrefix(r.URL.Path, openpgpPrefix)
	id := apiserver.IdentityFrom(r.Context())
	if id == nil || !canRead(r.Context(), f.authz, id, ns) {
		writeStatus(w, http.StatusNotFound, fmt.Sprintf("no namespace %s that this token may read", ns))
		return
	}
	s, err := f.aptSigner(r.Context(), ns)
	if errors.Is(err, aptrepo.ErrNotFound) {
		writeStatus(w, http.StatusNotFound, fmt.Sprintf("no namespace %s that this token may read", ns))
		return
	}
	if err != nil {
		writeStatus(w, http.StatusInternalServerError, err.Error())
		return
	}
	pub, err := s.PublicKey()
	if err != nil {
		writeStatus(w, http.StatusInternalServerError, err.Error())
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		writeJSON(w, map[string]string{"namespace": ns, "fingerprint": s.Fingerprint(), "publicKey": string(pub)})
		return
	}
	w.Header().Set("Content-Type", "application/pgp-keys")
	_, _ = w.Write(pub)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func writeStatus(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": msg, "code": code})
}

// aptFiles are a namespace's apt repository generations and its
// repository signing key: deleted with the namespace, so a namespace of
// the same name created later neither serves nor signs with them.
type aptFiles struct {
	dir  string
	keys aptrepo.Keys
}

func (p aptFiles) PurgeNamespace(_ context.Context, ns string) error {
	if err := os.RemoveAll(filepath.Join(p.dir, ns)); err != nil {
		return fmt.Errorf("deleting the apt repositories of namespace %s: %w", ns, err)
	}
	if err := p.keys.Remove(ns); err != nil {
		return fmt.Errorf("deleting the repository key of namespace %s: %w", ns, err)
	}
	return nil
}
