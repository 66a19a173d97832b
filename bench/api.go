package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// httpClient keeps enough idle connections for the search concurrency, so
// that no request pays for a new connection.
var httpClient = &http.Client{
	Timeout: 2 * time.Minute,
	Transport: &http.Transport{
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     time.Minute,
	},
}

func httpGet(ctx context.Context, url string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	return do(req)
}

func do(req *http.Request) (int, []byte, error) {
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// post sends a pre-encoded JSON body with the bench tenant's key and
// returns the status and the raw answer, without decoding it.
func (p *proc) post(ctx context.Context, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+benchKey)
	req.Header.Set("Content-Type", "application/json")
	return do(req)
}

// call sends a request with the bench tenant's key and an optional JSON
// body, and decodes a JSON answer into out (when out is not nil). A status
// other than want is an error carrying the body.
func (p *proc) call(ctx context.Context, method, path string, body any, want int, out any) error {
	var r io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.URL+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+benchKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	code, raw, err := do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if code != want {
		return fmt.Errorf("%s %s: status %d, want %d: %s", method, path, code, want, truncate(raw, 500))
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: decode %s: %w", method, path, truncate(raw, 200), err)
		}
	}
	return nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// submitted is the part of POST /v1/documents's answer the bench reads.
type submitted struct {
	Document struct {
		ID string `json:"id"`
	} `json:"document"`
	Job struct {
		ID string `json:"id"`
	} `json:"job"`
}

// submit asks the API to ingest the object at key.
func (p *proc) submit(ctx context.Context, key string) (submitted, error) {
	var s submitted
	err := p.call(ctx, http.MethodPost, "/v1/documents", map[string]string{"key": key}, http.StatusAccepted, &s)
	return s, err
}
