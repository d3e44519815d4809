package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/auth"
	"github.com/kilnbuild/kiln/internal/registry"
)

// maxBody bounds request bodies.
const maxBody = 4 << 20

// serveAPI dispatches /api/... and /apis/... requests.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	if g, v, ok := discoveryPath(r.URL.Path); ok {
		s.serveDiscovery(w, r, g, v)
		return
	}
	if h, ok := s.special(r.URL.Path); ok {
		h(w, r)
		return
	}
	ri, ok := parsePath(r.URL.Path)
	if !ok {
		s.writeError(w, r, notFound("no such path "+r.URL.Path))
		return
	}
	if err := ri.resolveKind(); err != nil {
		s.writeError(w, r, notFound(err.Error()))
		return
	}
	ri.Verb = verbFor(r, ri)
	if fileSubresources[ri.Subresource] && ri.Verb == auth.VerbGet {
		if _, err := s.authorize(r.Context(), ri); err != nil {
			s.writeError(w, r, err)
			return
		}
		if ri.Subresource == "log" {
			s.serveLog(w, r, ri)
		} else {
			s.serveEvidence(w, r, ri)
		}
		return
	}
	if ri.Subresource != "" && ri.Subresource != "status" {
		s.writeError(w, r, notFound(fmt.Sprintf("%s has no subresource %q", ri.Kind.Plural, ri.Subresource)))
		return
	}
	dec, err := s.authorize(r.Context(), ri)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.dispatch(w, r, ri, dec)
}

// discoveryPath recognises /api/v1, /apis/GROUP and /apis/GROUP/VERSION.
func discoveryPath(p string) (group, version string, ok bool) {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	switch {
	case len(parts) == 2 && parts[0] == "api":
		return "", parts[1], true
	case len(parts) == 2 && parts[0] == "apis":
		return parts[1], "", true
	case len(parts) == 3 && parts[0] == "apis":
		return parts[1], parts[2], true
	}
	return "", "", false
}

func (s *Server) authorize(ctx context.Context, ri requestInfo) (auth.Decision, error) {
	id := IdentityFrom(ctx)
	dec, err := s.authz.Authorize(ctx, id, auth.Attributes{
		Verb: ri.Verb, Kind: ri.Kind.Kind, Namespaced: ri.Kind.Namespaced,
		Namespace: ri.Namespace, Name: ri.Name, Subresource: ri.Subresource,
	})
	if err != nil {
		return dec, apierrors.NewInternalError(err)
	}
	if !dec.Allowed {
		return dec, apierrors.NewForbidden(registry.GroupResource(ri.Kind), ri.Name, fmt.Errorf("%s", dec.Reason))
	}
	return dec, nil
}

func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, ri requestInfo, dec auth.Decision) {
	switch ri.Verb {
	case auth.VerbGet:
		s.get(w, r, ri)
	case auth.VerbList:
		s.list(w, r, ri, dec)
	case auth.VerbWatch:
		s.watch(w, r, ri, dec)
	case auth.VerbCreate:
		s.create(w, r, ri)
	case auth.VerbUpdate:
		s.update(w, r, ri)
	case auth.VerbPatch:
		s.patch(w, r, ri)
	case auth.VerbDelete:
		s.delete(w, r, ri)
	default:
		s.writeError(w, r, apierrors.NewMethodNotSupported(registry.GroupResource(ri.Kind), r.Method))
	}
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	obj, err := s.reg.Get(r.Context(), ri.Kind, ri.Namespace, ri.Name, registry.GetOptions{})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if wantsTable(r) {
		writeJSON(w, http.StatusOK, s.table(ri.Kind, []v1alpha1.Object{obj}, "", "", true))
		return
	}
	writeJSON(w, http.StatusOK, obj)
}

// readBody reads a request body of at most maxBody bytes; a longer one is
// an error, never cut short.
func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, badRequest("reading body: " + err.Error())
	}
	if len(body) > maxBody {
		return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("body exceeds %d bytes", maxBody))
	}
	return body, nil
}

// readObject decodes a request body (JSON or YAML) strictly.
func readObject(r *http.Request, ri requestInfo) (v1alpha1.Object, error) {
	ct := r.Header.Get("Content-Type")
	if strings.Contains(ct, "cbor") {
		return nil, &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure,
			Code: http.StatusUnsupportedMediaType, Reason: metav1.StatusReasonUnsupportedMediaType,
			Message: fmt.Sprintf("content type %q is not supported: send application/json or application/yaml", ct)}}
	}
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if strings.Contains(ct, "protobuf") {
		if body, err = protobufToJSON(body); err != nil {
			return nil, &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure,
				Code: http.StatusUnsupportedMediaType, Reason: metav1.StatusReasonUnsupportedMediaType, Message: err.Error()}}
		}
	}
	obj, err := v1alpha1.DecodeAs(ri.Kind, body)
	if err != nil {
		return nil, registry.DecodeError(err)
	}
	if ri.Kind.Namespaced {
		if obj.GetNamespace() == "" {
			obj.SetNamespace(ri.Namespace)
		}
		if obj.GetNamespace() != ri.Namespace {
			return nil, badRequest(fmt.Sprintf("metadata.namespace %q does not match the request namespace %q", obj.GetNamespace(), ri.Namespace))
		}
	}
	return obj, nil
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	if ri.Name != "" || ri.Subresource != "" {
		s.writeError(w, r, apierrors.NewMethodNotSupported(registry.GroupResource(ri.Kind), "POST to a named object"))
		return
	}
	obj, err := readObject(r, ri)
	if err == nil {
		err = s.admitRequest(r.Context(), ri.Kind, obj)
	}
	if err == nil && dryRun(r) {
		err = registry.AdmitUser(r.Context(), ri.Kind, nil, obj)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if dryRun(r) {
		writeJSON(w, http.StatusCreated, obj)
		return
	}
	out, err := s.reg.Create(r.Context(), ri.Kind, obj, registry.CreateOptions{})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.afterCreate(r.Context(), ri.Kind, out)
	writeJSON(w, http.StatusCreated, out)
}

func dryRun(r *http.Request) bool { return len(r.URL.Query()["dryRun"]) > 0 }

func (s *Server) update(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	obj, err := readObject(r, ri)
	if err == nil && obj.GetName() != ri.Name {
		err = badRequest(fmt.Sprintf("metadata.name %q does not match the name in the path %q", obj.GetName(), ri.Name))
	}
	if err == nil && ri.Subresource == "" {
		err = s.admitRequest(r.Context(), ri.Kind, obj)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out, err := s.reg.Update(r.Context(), ri.Kind, obj, registry.UpdateOptions{Subresource: ri.Subresource})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) patch(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	body, err := readBody(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	opts := registry.UpdateOptions{Subresource: ri.Subresource}
	if ri.Subresource == "" {
		opts.Admit = func(old, obj v1alpha1.Object) error { return s.admitChange(r.Context(), ri.Kind, old, obj) }
	}
	out, err := s.reg.Patch(r.Context(), ri.Kind, ri.Namespace, ri.Name, r.Header.Get("Content-Type"), body, opts)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	if ri.Name == "" {
		s.writeError(w, r, apierrors.NewMethodNotSupported(registry.GroupResource(ri.Kind), "delete collection"))
		return
	}
	opts, err := deleteOptions(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	obj, gone, err := s.reg.Delete(r.Context(), ri.Kind, ri.Namespace, ri.Name, opts)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !gone {
		writeJSON(w, http.StatusOK, obj)
		return
	}
	writeJSON(w, http.StatusOK, metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess,
		Details: &metav1.StatusDetails{Name: ri.Name, Group: ri.Kind.Group, Kind: ri.Kind.Plural, UID: obj.GetUID()},
	})
}

func deleteOptions(r *http.Request) (registry.DeleteOptions, error) {
	var do metav1.DeleteOptions
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := json.Unmarshal(body, &do); err != nil {
			return registry.DeleteOptions{}, badRequest("DeleteOptions: " + err.Error())
		}
	}
	if p := r.URL.Query().Get("propagationPolicy"); p != "" {
		pp := metav1.DeletionPropagation(p)
		do.PropagationPolicy = &pp
	}
	var opts registry.DeleteOptions
	if do.Preconditions != nil {
		if do.Preconditions.ResourceVersion != nil {
			opts.PreconditionRV = *do.Preconditions.ResourceVersion
		}
		if do.Preconditions.UID != nil {
			opts.PreconditionUID = *do.Preconditions.UID
		}
	}
	opts.Orphan = do.PropagationPolicy != nil && *do.PropagationPolicy == metav1.DeletePropagationOrphan
	return opts, nil
}

// listParams reads list query parameters.
func listParams(r *http.Request, ri requestInfo) (registry.ListOptions, error) {
	q := r.URL.Query()
	opts := registry.ListOptions{Namespace: ri.Namespace, LabelSelector: q.Get("labelSelector"),
		FieldSelector: q.Get("fieldSelector"), Continue: q.Get("continue")}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			return opts, badRequest(fmt.Sprintf("limit %q must be a non-negative integer", l))
		}
		opts.Limit = n
	}
	return opts, nil
}
