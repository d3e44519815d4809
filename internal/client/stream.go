package client

import (
	"context"
	"io"
)

// Stream GETs path and returns the open body of a 2xx answer (e.g. a build
// log with ?follow=true). The caller closes it.
func (c *Client) Stream(ctx context.Context, path string) (io.ReadCloser, error) {
	return c.stream(ctx, path, nil)
}
