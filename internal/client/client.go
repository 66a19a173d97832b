// Package client is a Go client for protostar's /v1 API, used by the CLI
// and tests. Every method takes a context first and returns an *Error for
// RFC 9457 problem answers, so callers can branch on the HTTP status.
package client

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// PollInterval is how often WaitJob polls a job when it cannot follow the
// job's event stream.
const PollInterval = 250 * time.Millisecond

// Retries of a request the API rejected with 429 Too Many Requests.
const (
	maxRetries    = 4
	maxRetryAfter = 30 * time.Second
)

// Client talks to one protostar API as one tenant (its API key). It is safe
// for concurrent use.
type Client struct {
	base   *url.URL
	key    string
	tenant string // sent as Protostar-Tenant when set (platform keys)
	hc     *http.Client
}

// ForTenant returns a client that acts for tenant with this client's
// platform key (the Protostar-Tenant header).
func (c *Client) ForTenant(tenant string) *Client {
	cp := *c
	cp.tenant = tenant
	return &cp
}

// New returns a client for the API at baseURL (http or https, host and an
// optional path prefix) that authenticates with apiKey. A nil hc uses a
// client without an overall timeout, since streams run as long as the work
// they follow: bound calls with their context instead.
func New(baseURL, apiKey string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("invalid API URL %q: want http(s)://host[:port]", baseURL)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	if hc == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 16 // uploads and job streams run side by side
		hc = &http.Client{Transport: t}
	}
	return &Client{base: u, key: apiKey, hc: hc}, nil
}

// request describes one API call.
type request struct {
	method string
	path   string // below the base URL, segments already escaped
	query  url.Values
	in     any // JSON-encoded as the body when not nil
	// body, when set, opens a fresh streamed body and returns its content
	// type; it is called once per attempt.
	body   func() (io.ReadCloser, string, error)
	accept string
}

// send performs r and returns the response of a 1xx–3xx answer; the caller
// closes its body. A 4xx or 5xx answer becomes an *Error. 429 answers are
// retried after their Retry-After time, a few times.
func (c *Client) send(ctx context.Context, r request) (*http.Response, error) {
	var raw []byte
	if r.in != nil {
		var err error
		if raw, err = json.Marshal(r.in); err != nil {
			return nil, fmt.Errorf("encode %s %s body: %w", r.method, r.path, err)
		}
	}
	for attempt := 0; ; attempt++ {
		req, err := c.newRequest(ctx, r, raw)
		if err != nil {
			return nil, err
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			return nil, err // *url.Error names the method and URL
		}
		if resp.StatusCode < 400 {
			return resp, nil
		}
		apiErr := readProblem(resp)
		if resp.StatusCode != http.StatusTooManyRequests || attempt == maxRetries {
			return nil, apiErr
		}
		if err := sleep(ctx, retryAfter(resp.Header.Get("Retry-After"))); err != nil {
			return nil, err
		}
	}
}

func (c *Client) newRequest(ctx context.Context, r request, raw []byte) (*http.Request, error) {
	target := c.base.String() + r.path // r.path is already escaped
	if q := r.query.Encode(); q != "" {
		target += "?" + q
	}
	var (
		body        io.Reader
		contentType string
	)
	switch {
	case r.body != nil:
		rc, ct, err := r.body()
		if err != nil {
			return nil, err
		}
		body, contentType = rc, ct
	case raw != nil:
		body, contentType = bytes.NewReader(raw), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, body)
	if err != nil {
		if c, ok := body.(io.Closer); ok {
			_ = c.Close()
		}
		return nil, fmt.Errorf("build %s %s request: %w", r.method, r.path, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", cmp.Or(r.accept, "application/json"))
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	if c.tenant != "" {
		req.Header.Set("Protostar-Tenant", c.tenant)
	}
	req.Header.Set("User-Agent", "protostar-client")
	return req, nil
}

// do sends r and decodes a JSON answer into out (if not nil). It returns
// the HTTP status.
func (c *Client) do(ctx context.Context, r request, out any) (int, error) {
	resp, err := c.send(ctx, r)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode %s %s answer: %w", r.method, r.path, err)
		}
	}
	return resp.StatusCode, nil
}

// retryAfter reads a Retry-After header (seconds or an HTTP date); it
// defaults to one second and is capped at maxRetryAfter.
func retryAfter(h string) time.Duration {
	d := time.Second
	if n, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && n >= 0 {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = time.Until(t)
	}
	return min(max(d, 0), maxRetryAfter)
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// pathID escapes an id for use as one path segment.
func pathID(id string) string { return url.PathEscape(id) }
