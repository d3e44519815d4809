// Package client is a small REST client for Kiln's Kubernetes-style API: it
// discovers the served resources, resolves what users type (component,
// comp, components.kiln.dev) to API paths, and reads, writes and watches
// objects as untyped JSON (Object).
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Content types the server understands.
const (
	ContentTypeJSON       = "application/json"
	ContentTypeMergePatch = "application/merge-patch+json"
	ContentTypeJSONPatch  = "application/json-patch+json"
	// AcceptTable asks for a metav1.Table, falling back to plain JSON.
	AcceptTable = "application/json;as=Table;v=v1;g=meta.k8s.io, application/json"
)

// DefaultTimeout bounds every request except watches.
const DefaultTimeout = 60 * time.Second

// Client talks to one Kiln server. It is safe for concurrent use.
type Client struct {
	cfg  Config
	http *http.Client
	// Log, when non-nil, receives one line per HTTP request (kiln -v).
	Log io.Writer
	// Timeout bounds each non-watch request; DefaultTimeout when zero.
	Timeout time.Duration
	// UserAgent is sent with every request.
	UserAgent string

	initErr error // a bad TLS setup, reported by every request

	mu        sync.Mutex
	resources []Resource // discovery cache, nil until Discover succeeds

	// WatchBackoff is the delay before reconnecting a watch after the n-th
	// consecutive failure (n=0: after a clean close without events).
	WatchBackoff func(n int) time.Duration
}

// New returns a client for cfg. It does no I/O.
func New(cfg *Config) *Client {
	c := &Client{cfg: *cfg, UserAgent: "kiln"}
	c.cfg.Server = strings.TrimRight(c.cfg.Server, "/")
	c.WatchBackoff = DefaultWatchBackoff
	tr, err := NewTransport(cfg)
	c.initErr = err
	c.http = &http.Client{Transport: tr}
	return c
}

// NewTransport is an HTTP transport for cfg: it trusts the configured CA
// besides the system roots.
func NewTransport(cfg *Config) (*http.Transport, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipTLSVerify}
	pem, err := cfg.CAPEM()
	if err != nil || len(pem) == 0 {
		return tr, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return tr, errors.New("the configured server CA holds no PEM certificate (check certificateAuthority / certificateAuthorityData in the config)")
	}
	tr.TLSClientConfig.RootCAs = pool
	return tr, nil
}

// Config returns the configuration the client was built with.
func (c *Client) Config() Config { return c.cfg }

// Do sends one request and returns the response body of a 2xx answer. path
// is relative to the server ("/api/v1/namespaces?limit=1"). body is nil, a
// []byte sent as is, or a value encoded as JSON. Non-2xx answers return a
// *StatusError.
func (c *Client) Do(ctx context.Context, method, path string, body any, headers http.Header) ([]byte, error) {
	timeout := c.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := c.send(ctx, method, path, body, headers)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading response: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, newStatusError(resp.StatusCode, data)
	}
	return data, nil
}

// stream sends a GET and returns the open body of a 2xx answer.
func (c *Client) stream(ctx context.Context, path string, headers http.Header) (io.ReadCloser, error) {
	resp, err := c.send(ctx, http.MethodGet, path, nil, headers)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return nil, newStatusError(resp.StatusCode, data)
	}
	return resp.Body, nil
}

func (c *Client) send(ctx context.Context, method, path string, body any, headers http.Header) (*http.Response, error) {
	if c.cfg.Server == "" {
		return nil, ErrNoConfig
	}
	if c.initErr != nil {
		return nil, c.initErr
	}
	rd, err := encodeBody(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.cfg.Server+path, rd)
	if err != nil {
		return nil, fmt.Errorf("bad server URL %q (fix it with `kiln config set-server URL`): %w", c.cfg.Server, err)
	}
	c.setHeaders(req, body, headers)
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		c.logf("%s %s -> %v", method, req.URL, err)
		return nil, c.connError(err)
	}
	c.logf("%s %s %s in %s", method, req.URL, resp.Status, time.Since(start).Round(time.Millisecond))
	return resp, nil
}

func encodeBody(body any) (io.Reader, error) {
	switch b := body.(type) {
	case nil:
		return nil, nil
	case []byte:
		return bytes.NewReader(b), nil
	case io.Reader:
		return b, nil
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		return bytes.NewReader(data), nil
	}
}

func (c *Client) setHeaders(req *http.Request, body any, headers http.Header) {
	req.Header.Set("Accept", ContentTypeJSON)
	if body != nil {
		req.Header.Set("Content-Type", ContentTypeJSON)
	}
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	if c.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	}
	for k, v := range headers {
		req.Header[http.CanonicalHeaderKey(k)] = v
	}
}

// connError explains transport failures; context errors pass through.
func (c *Client) connError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var unknownCA x509.UnknownAuthorityError
	var verify *tls.CertificateVerificationError
	if errors.As(err, &unknownCA) || errors.As(err, &verify) {
		return fmt.Errorf("the certificate of the Kiln server at %s is not trusted (%v): point certificateAuthority in the config "+
			"at the server's CA (`kiln up` keeps it in .kiln/tls/ca.crt) or pass --certificate-authority FILE", c.cfg.Server, err)
	}
	var ue *url.Error
	var oe *net.OpError
	if errors.As(err, &ue) && errors.As(err, &oe) {
		return fmt.Errorf("cannot reach the Kiln server at %s (%v): is it running? "+
			"Start one with `kiln up`, or point at another with `kiln config set-server URL` or --server", c.cfg.Server, oe.Err)
	}
	return fmt.Errorf("request to %s failed: %w", c.cfg.Server, err)
}

func (c *Client) logf(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, format+"\n", args...)
	}
}

// DefaultWatchBackoff doubles from 250ms up to 5s.
func DefaultWatchBackoff(n int) time.Duration {
	d := 250 * time.Millisecond << min(n, 5)
	return min(d, 5*time.Second)
}
