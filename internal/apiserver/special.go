package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/auth"
	"github.com/kilnbuild/kiln/internal/registry"
)

const kilnPrefix = "/apis/" + v1alpha1.APIVersion + "/"

// special returns handlers for Kiln's non-resource endpoints.
func (s *Server) special(path string) (http.HandlerFunc, bool) {
	rest, ok := strings.CutPrefix(path, kilnPrefix)
	if !ok {
		return nil, false
	}
	switch {
	case rest == "whoami":
		return s.whoami, true
	case rest == "builder":
		return func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.builder) }, true
	case rest == "tokenrequests":
		return s.tokenRequest, true
	case rest == "tokens" || strings.HasPrefix(rest, "tokens/"):
		name := strings.TrimPrefix(strings.TrimPrefix(rest, "tokens"), "/")
		return func(w http.ResponseWriter, r *http.Request) { s.tokens(w, r, name) }, true
	}
	return nil, false
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request) {
	id := IdentityFrom(r.Context())
	b, err := s.authz.Bindings(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := map[string]string{}
	for ns, roles := range b {
		var names []string
		for _, role := range roles {
			names = append(names, string(role))
		}
		out[ns] = strings.Join(names, ",")
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": id.User, "clusterAdmin": id.ClusterAdmin, "bindings": out})
}

// TokenRequest asks for a new bearer token.
type TokenRequest struct {
	Subject     string `json:"subject"`
	Description string `json:"description,omitempty"`
	ExpiresIn   string `json:"expiresIn,omitempty"`
	// Platforms are the platforms a remote worker's token (subject
	// system:worker:<name>) may lease builds for; default the server's.
	Platforms []string `json:"platforms,omitempty"`
}

// TokenResponse carries a new token; the token is shown only here.
type TokenResponse struct {
	Name      string `json:"name"`
	Token     string `json:"token"`
	Subject   string `json:"subject"`
	ExpiresAt string `json:"expiresAt,omitempty"`
}

func (s *Server) tokenRequest(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		s.writeError(w, r, badRequest("POST a TokenRequest {subject, description, expiresIn}"))
		return
	}
	var req TokenRequest
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err := json.Unmarshal(body, &req); err != nil {
		s.writeError(w, r, badRequest("TokenRequest: "+err.Error()))
		return
	}
	id := IdentityFrom(r.Context())
	if req.Subject == "" {
		req.Subject = id.User
	}
	if err := s.mayIssue(r.Context(), id, req.Subject); err != nil {
		s.writeError(w, r, err)
		return
	}
	resp, err := IssueToken(r.Context(), s.reg, req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, resp)
}

// mayIssue decides who may create tokens for whom: anyone for themselves,
// namespace admins for their service accounts, cluster admins for anyone.
func (s *Server) mayIssue(ctx context.Context, id *auth.Identity, subject string) error {
	if id.ClusterAdmin || subject == id.User {
		return nil
	}
	ns, _, ok := auth.ParseServiceAccount(subject)
	if !ok {
		return forbidden(fmt.Sprintf("only cluster admins may create tokens for other users (%q)", subject))
	}
	roles, err := s.authz.Roles(ctx, id, ns)
	if err != nil {
		return err
	}
	for _, r := range roles {
		if r == auth.Admin {
			return nil
		}
	}
	return forbidden(fmt.Sprintf("creating a token for %s needs the admin role in namespace %q", subject, ns))
}

// IssueToken creates a Token object for req and returns the bearer token.
func IssueToken(ctx context.Context, reg *registry.Registry, req TokenRequest) (*TokenResponse, error) {
	if err := checkSubject(ctx, reg, &req); err != nil {
		return nil, err
	}
	name, token, err := auth.NewToken()
	if err != nil {
		return nil, err
	}
	spec := map[string]any{"subject": req.Subject, "description": req.Description, "hash": auth.HashSecret(strings.SplitN(strings.TrimPrefix(token, auth.TokenPrefix), "_", 2)[1])}
	if strings.HasPrefix(req.Subject, auth.WorkerPrefix) {
		spec["scope"] = map[string]any{"platforms": req.Platforms}
	}
	resp := &TokenResponse{Name: name, Token: token, Subject: req.Subject}
	if req.ExpiresIn != "" {
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil || d <= 0 {
			return nil, badRequest(fmt.Sprintf("expiresIn %q: expected a positive duration such as 720h", req.ExpiresIn))
		}
		resp.ExpiresAt = time.Now().Add(d).UTC().Format(time.RFC3339)
		spec["expiresAt"] = resp.ExpiresAt
	}
	k, _ := v1alpha1.Lookup("Token")
	obj := k.New()
	raw, _ := json.Marshal(map[string]any{"metadata": map[string]any{"name": name}, "spec": spec})
	if err := json.Unmarshal(raw, obj); err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	if _, err := reg.Create(ctx, k, obj, registry.CreateOptions{}); err != nil {
		return nil, err
	}
	return resp, nil
}

func checkSubject(ctx context.Context, reg *registry.Registry, req *TokenRequest) error {
	subject := req.Subject
	if strings.HasPrefix(subject, auth.BuildPrefix) {
		return badRequest("build push tokens are issued by Kiln to the worker running the build, never on request")
	}
	if strings.HasPrefix(subject, auth.WorkerPrefix) {
		return checkWorkerRequest(req)
	}
	if len(req.Platforms) > 0 {
		return badRequest("platforms apply to worker tokens only (subject system:worker:<name>)")
	}
	if ns, name, ok := auth.ParseServiceAccount(subject); ok {
		k, _ := v1alpha1.Lookup("ServiceAccount")
		_, err := reg.Get(ctx, k, ns, name, registry.GetOptions{})
		return err
	}
	k, _ := v1alpha1.Lookup("User")
	_, err := reg.Get(ctx, k, "", subject, registry.GetOptions{})
	return err
}

// checkWorkerRequest checks a worker token's request, defaulting its
// platforms to the server's.
func checkWorkerRequest(req *TokenRequest) error {
	if len(req.Platforms) == 0 {
		req.Platforms = []string{runtime.GOOS + "/" + runtime.GOARCH}
	}
	for _, p := range req.Platforms {
		if !v1alpha1.ValidPlatform(p) {
			return badRequest(fmt.Sprintf("platform %q: want os/arch such as linux/amd64 or linux/arm64", p))
		}
	}
	return nil
}

// tokens lists and revokes tokens: cluster admins see all, others their own
// and those of service accounts they administer. Hashes are never returned.
func (s *Server) tokens(w http.ResponseWriter, r *http.Request, name string) {
	k, _ := v1alpha1.Lookup("Token")
	id := IdentityFrom(r.Context())
	switch {
	case r.Method == http.MethodGet && name == "":
		s.listTokens(w, r, k, id)
	case r.Method == http.MethodDelete && name != "":
		s.revokeToken(w, r, k, id, name)
	default:
		s.writeError(w, r, apierrors.NewMethodNotSupported(registry.GroupResource(k), r.Method))
	}
}

func tokenSubject(obj v1alpha1.Object) string {
	raw, _ := json.Marshal(obj)
	var d struct {
		Spec struct {
			Subject string `json:"subject"`
		} `json:"spec"`
	}
	_ = json.Unmarshal(raw, &d)
	return d.Spec.Subject
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, k *v1alpha1.Kind, id *auth.Identity) {
	var items []v1alpha1.Object
	opts := registry.ListOptions{Limit: 1000}
	for {
		res, err := s.reg.List(r.Context(), k, opts)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		for _, o := range res.Items {
			if id.ClusterAdmin || tokenSubject(o) == id.User || s.mayIssue(r.Context(), id, tokenSubject(o)) == nil {
				items = append(items, hideHash(o))
			}
		}
		if opts.Continue = res.Continue; opts.Continue == "" {
			break
		}
	}
	writeList(w, k, items, "", "")
}

func hideHash(o v1alpha1.Object) v1alpha1.Object {
	raw, _ := json.Marshal(o)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	if spec, ok := m["spec"].(map[string]any); ok {
		delete(spec, "hash")
	}
	raw, _ = json.Marshal(m)
	k, _ := v1alpha1.Lookup("Token")
	out := k.New()
	_ = json.Unmarshal(raw, out)
	return out
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, k *v1alpha1.Kind, id *auth.Identity, name string) {
	obj, err := s.reg.Get(r.Context(), k, "", name, registry.GetOptions{})
	if err == nil && !id.ClusterAdmin && s.mayIssue(r.Context(), id, tokenSubject(obj)) != nil {
		err = forbidden(fmt.Sprintf("token %s belongs to %s", name, tokenSubject(obj)))
	}
	if err == nil {
		_, _, err = s.reg.Delete(r.Context(), k, "", name, registry.DeleteOptions{})
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.authn.Forget()
	writeJSON(w, http.StatusOK, map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Success",
		"details": map[string]string{"name": name, "kind": "tokens"}})
}
