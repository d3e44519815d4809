// Package webhook receives push and pull request events from GitHub,
// GitLab, Forgejo and Gitea, authenticates them with the webhook secrets
// configured for the repository, and hands verified pushes and pull
// requests to Kiln in one forge-neutral shape.
//
// The Handler is a public route: forges cannot log in, so each delivery
// proves itself with a signature (GitHub, Forgejo, Gitea: HMAC-SHA256 of
// the body) or a token (GitLab) made with a secret shared with the
// repository's Components. Nothing unverified is passed on.
package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
)

// DefaultMaxBody bounds a delivery's body; GitHub caps payloads at 25 MB
// but a push of a few thousand commits stays far below this.
const DefaultMaxBody = 5 << 20

// Secret is a webhook secret configured for a repository.
type Secret struct {
	// Key names what the secret belongs to, e.g. "namespace/component";
	// keys of matching secrets are reported in PushEvent.VerifiedBy.
	Key   string
	Value []byte
}

// SecretLookup returns the secrets configured for the repository whose
// address, normalised with NormalizeURL, is repoURL: typically the webhook
// secrets of every Component whose NormalizeURL(spec.source.git.url)
// equals it.
type SecretLookup func(ctx context.Context, repoURL string) ([]Secret, error)

// Handler serves /<prefix>/github, /<prefix>/gitlab, /<prefix>/forgejo and
// /<prefix>/gitea (the last path segment picks the forge). It answers 202
// when OnPush took a verified push (or OnPullRequest a pull request that
// was opened, reopened or got new commits), 200 "ignored: ..." for verified
// deliveries Kiln does not act on (pings, other events and actions,
// deletions), 401 for a missing or wrong signature, 400 for a malformed
// payload and 413 for a body over MaxBody.
type Handler struct {
	// Secrets finds the candidate secrets of a repository. Required.
	Secrets SecretLookup
	// OnPush receives verified pushes. Required. An error answers 500, so
	// the forge shows the delivery as failed and may redeliver it.
	OnPush func(ctx context.Context, ev PushEvent) error
	// OnPullRequest receives verified pull requests (GitLab: merge
	// requests) that were opened, reopened or got new commits. Optional:
	// when nil, pull request deliveries are answered "ignored". An error
	// answers 500, as for OnPush.
	OnPullRequest func(ctx context.Context, ev PullRequestEvent) error
	// MaxBody defaults to DefaultMaxBody.
	MaxBody int64
	Log     *slog.Logger
}

// reply is an HTTP answer with a short reason.
type reply struct {
	status int
	msg    string
}

func (e *reply) Error() string { return e.msg }

func fail(status int, format string, args ...any) error {
	return &reply{status: status, msg: fmt.Sprintf(format, args...)}
}

// ServeHTTP answers one delivery with a status and a one-line reason.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ok, err := h.serve(r)
	var rep *reply
	switch {
	case errors.As(err, &rep):
	case err != nil:
		h.log().Error("webhook delivery failed", "path", r.URL.Path, "err", err)
		rep = &reply{http.StatusInternalServerError, "internal error"}
	default:
		rep = ok
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(rep.status)
	_, _ = io.WriteString(w, rep.msg+"\n")
}

// serve handles one delivery; an error is a *reply or an internal error.
func (h *Handler) serve(r *http.Request) (*reply, error) {
	f, ok := forges[path.Base(r.URL.Path)]
	if !ok {
		return nil, fail(http.StatusNotFound, "unknown forge: use .../github, .../gitlab, .../forgejo or .../gitea")
	}
	if r.Method != http.MethodPost {
		return nil, fail(http.StatusMethodNotAllowed, "webhooks are delivered with POST")
	}
	d, err := h.read(r, f)
	if err != nil {
		return nil, err
	}
	if err := h.authenticate(r.Context(), d); err != nil {
		return nil, err
	}
	return h.dispatch(r.Context(), d)
}

// delivery is a request read but not yet trusted.
type delivery struct {
	forge    *forge
	sig      string
	event    string
	id       string
	body     []byte // as signed
	doc      []byte // the JSON document (body, or its payload form field)
	payload  *payload
	verified []string
}

func (h *Handler) read(r *http.Request, f *forge) (*delivery, error) {
	sig, sigName := header(r.Header, f.sigHeaders)
	if sig == "" {
		return nil, fail(http.StatusUnauthorized, "missing %s header", sigName)
	}
	limit := h.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, fail(http.StatusRequestEntityTooLarge, "body larger than %d bytes", limit)
	} else if err != nil {
		return nil, fail(http.StatusBadRequest, "reading body: %v", err)
	}
	d := &delivery{forge: f, sig: sig, body: body}
	d.event, _ = header(r.Header, f.eventHeader)
	d.id, _ = header(r.Header, f.deliveryHdr)
	doc, err := jsonDocument(r.Header.Get("Content-Type"), body)
	if err != nil {
		return nil, err
	}
	d.doc = doc
	if d.payload, err = decode(doc); err != nil {
		return nil, fail(http.StatusBadRequest, "%v", err)
	}
	return d, nil
}

// jsonDocument is the JSON of a body sent as JSON or, as GitHub and Gitea
// can, as a form with a "payload" field.
func jsonDocument(contentType string, body []byte) ([]byte, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt != "application/x-www-form-urlencoded" {
		return body, nil
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("payload") == "" {
		return nil, fail(http.StatusBadRequest, "form body without a payload field")
	}
	return []byte(form.Get("payload")), nil
}

// authenticate checks the signature against every secret configured for
// the repository and records the keys of those that match.
func (h *Handler) authenticate(ctx context.Context, d *delivery) error {
	urls := d.payload.repoURLs()
	if len(urls) == 0 {
		if d.isPing() {
			return nil // an organisation's ping names no repository: nothing to check, nothing passed on
		}
		return fail(http.StatusBadRequest, "payload names no repository")
	}
	secrets, err := h.secretsFor(ctx, urls)
	if err != nil {
		return err
	}
	for _, s := range secrets {
		if len(s.Value) == 0 {
			continue // anyone can sign with an empty key
		}
		if d.forge.verify(d.sig, d.body, s.Value) && !slices.Contains(d.verified, s.Key) {
			d.verified = append(d.verified, s.Key)
		}
	}
	if len(d.verified) == 0 {
		h.log().Info("webhook signature rejected", "forge", d.forge.name, "repo", urls[0],
			"delivery", d.id, "candidates", len(secrets))
		return fail(http.StatusUnauthorized, "signature does not match a webhook secret of this repository")
	}
	return nil
}

// secretsFor looks up each distinct normalised address once.
func (h *Handler) secretsFor(ctx context.Context, urls []string) ([]Secret, error) {
	var seen []string
	var all []Secret
	for _, u := range urls {
		n := NormalizeURL(u)
		if slices.Contains(seen, n) {
			continue
		}
		seen = append(seen, n)
		s, err := h.Secrets(ctx, n)
		if err != nil {
			return nil, fmt.Errorf("looking up webhook secrets of %s: %w", n, err)
		}
		all = append(all, s...)
	}
	return all, nil
}

func (d *delivery) isPing() bool {
	return d.event == "ping"
}

// isPush reports whether the delivery is a push (of a branch or a tag).
func (d *delivery) isPush() bool {
	switch d.forge.name {
	case "gitlab":
		return d.payload.ObjectKind == "push" || d.payload.ObjectKind == "tag_push"
	}
	return d.event == "push"
}

// isPullRequest reports whether the delivery is about a pull request
// (GitLab: a merge request).
func (d *delivery) isPullRequest() bool {
	if d.forge.name == "gitlab" {
		return d.payload.ObjectKind == "merge_request"
	}
	return d.event == "pull_request"
}

// dispatch passes a verified push or pull request on, or says why not.
func (h *Handler) dispatch(ctx context.Context, d *delivery) (*reply, error) {
	switch {
	case d.isPing():
		return &reply{http.StatusOK, "ignored: ping"}, nil
	case d.isPullRequest():
		return h.pullRequest(ctx, d)
	case !d.isPush():
		return &reply{http.StatusOK, fmt.Sprintf("ignored: %q is not a push event", d.event)}, nil
	}
	ev, err := d.payload.push(d.forge.name)
	if err != nil {
		return nil, fail(http.StatusBadRequest, "%v", err)
	}
	if ev.Deleted {
		return &reply{http.StatusOK, "ignored: " + ev.Ref + " was deleted"}, nil
	}
	ev.Delivery, ev.VerifiedBy = d.id, d.verified
	if err := h.OnPush(ctx, ev); err != nil {
		return nil, fmt.Errorf("handling push to %s of %s: %w", ev.Ref, ev.RepoURLs[0], err)
	}
	h.log().Info("push accepted", "forge", ev.Forge, "repo", ev.RepoURLs[0], "ref", ev.Ref,
		"after", ev.After, "delivery", ev.Delivery, "for", strings.Join(ev.VerifiedBy, ","))
	return &reply{http.StatusAccepted, "accepted"}, nil
}

// pullRequest passes a verified pull request with a new head on.
func (h *Handler) pullRequest(ctx context.Context, d *delivery) (*reply, error) {
	if h.OnPullRequest == nil {
		return &reply{http.StatusOK, "ignored: pull requests are not built here"}, nil
	}
	pr, err := decodePR(d.doc)
	if err != nil {
		return nil, fail(http.StatusBadRequest, "%v", err)
	}
	if a := pr.action(); !newHead(d.forge.name, a) {
		return &reply{http.StatusOK, fmt.Sprintf("ignored: pull request action %q", a)}, nil
	}
	ev, err := pullRequest(d.forge.name, d.payload, pr)
	if err != nil {
		return nil, fail(http.StatusBadRequest, "%v", err)
	}
	ev.Delivery, ev.VerifiedBy = d.id, d.verified
	if err := h.OnPullRequest(ctx, ev); err != nil {
		return nil, fmt.Errorf("handling pull request #%d of %s: %w", ev.Number, ev.RepoURLs[0], err)
	}
	h.log().Info("pull request accepted", "forge", ev.Forge, "repo", ev.RepoURLs[0], "number", ev.Number,
		"head", ev.HeadSHA, "base", ev.BaseRef, "fork", ev.Fork, "author", ev.Author, "delivery", ev.Delivery,
		"for", strings.Join(ev.VerifiedBy, ","))
	return &reply{http.StatusAccepted, "accepted"}, nil
}

func (h *Handler) log() *slog.Logger {
	if h.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Log
}
