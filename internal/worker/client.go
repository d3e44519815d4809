package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/kilnbuild/kiln/internal/remote"
)

// errLeaseLost is the server's answer to a worker that no longer holds a
// build's lease (409): it stops the build and forgets it.
var errLeaseLost = errors.New("the server took the build back")

// errRefused is the server's answer to a token it does not accept (401) or
// a request the token does not allow (403): retrying cannot help.
var errRefused = errors.New("the server refused this worker")

// client speaks the worker protocol to one server.
type client struct {
	base  string // https://host:port
	token string
	hc    *http.Client
}

func (c *client) buildPath(t *remote.Task, op string) string {
	return remote.PathPrefix + "builds/" + url.PathEscape(t.Namespace) + "/" + url.PathEscape(t.Build) + "/" + op
}

// do sends a request and decodes a JSON answer into out (when non-nil).
// A 204 leaves out untouched and reports false.
func (c *client) do(ctx context.Context, method, path string, body io.Reader, out any) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := c.hc.Do(req)
	if err != nil {
		return false, err
	}
	defer res.Body.Close()
	if res.StatusCode >= 300 {
		return false, answerError(method, path, res)
	}
	if res.StatusCode == http.StatusNoContent || out == nil {
		return false, nil
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		return false, fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
	}
	return true, nil
}

func answerError(method, path string, res *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	var e remote.ErrorBody
	msg := string(raw)
	if json.Unmarshal(raw, &e) == nil && e.Message != "" {
		msg = e.Message
	}
	err := fmt.Errorf("%s %s: %s: %s", method, path, res.Status, msg)
	switch res.StatusCode {
	case http.StatusConflict:
		return fmt.Errorf("%w: %w", errLeaseLost, err)
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Errorf("%w: %w", errRefused, err)
	}
	return err
}

func (c *client) postJSON(ctx context.Context, path string, in, out any) (bool, error) {
	data, err := json.Marshal(in)
	if err != nil {
		return false, err
	}
	return c.do(ctx, http.MethodPost, path, bytes.NewReader(data), out)
}

// lease long-polls for a task; nil when none came.
func (c *client) lease(ctx context.Context, req remote.LeaseRequest) (*remote.Task, error) {
	var t remote.Task
	got, err := c.postJSON(ctx, remote.PathPrefix+"lease", req, &t)
	if err != nil || !got {
		return nil, err
	}
	return &t, nil
}

func (c *client) renew(ctx context.Context, t *remote.Task) error {
	var r remote.RenewResponse
	_, err := c.postJSON(ctx, c.buildPath(t, "renew"), remote.Renewal{Generation: t.Generation}, &r)
	return err
}

func (c *client) source(ctx context.Context, t *remote.Task) (io.ReadCloser, error) {
	path := c.buildPath(t, "source") + "?generation=" + strconv.FormatInt(t.Generation, 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		defer res.Body.Close()
		return nil, answerError(http.MethodGet, path, res)
	}
	return res.Body, nil
}

func (c *client) log(ctx context.Context, t *remote.Task, offset int64, chunk []byte) error {
	path := c.buildPath(t, "log") + "?generation=" + strconv.FormatInt(t.Generation, 10) + "&offset=" + strconv.FormatInt(offset, 10)
	_, err := c.do(ctx, http.MethodPost, path, bytes.NewReader(chunk), nil)
	return err
}

func (c *client) progress(ctx context.Context, t *remote.Task, p remote.Progress) error {
	_, err := c.postJSON(ctx, c.buildPath(t, "progress"), p, nil)
	return err
}

func (c *client) complete(ctx context.Context, t *remote.Task, done remote.Completion) error {
	_, err := c.postJSON(ctx, c.buildPath(t, "complete"), done, nil)
	return err
}
