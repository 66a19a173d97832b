// Package rerank is the client of a reranking model served over HTTP with
// the Cohere/Jina-style rerank request that TEI, vLLM and Infinity accept:
//
//	POST /v1/rerank {"model": …, "query": …, "documents": […], "top_n": n, "return_documents": false}
//	→ {"results": [{"index": i, "relevance_score": s}, …]}
package rerank

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/protostar/protostar"
)

// Config names the endpoint.
type Config struct {
	URL     string        // the rerank endpoint itself, e.g. http://tei:8080/v1/rerank
	Model   string        // sent as "model" when set
	APIKey  string        // sent as a bearer token when set
	Timeout time.Duration // per call; default 2s
}

// Client calls a rerank endpoint. It is safe for concurrent use.
type Client struct {
	cfg Config
	hc  *http.Client
}

// New returns a client; hc nil uses a default client.
func New(cfg Config, hc *http.Client) *Client {
	cfg.Timeout = cmp.Or(cfg.Timeout, 2*time.Second)
	return &Client{cfg: cfg, hc: cmp.Or(hc, http.DefaultClient)}
}

type request struct {
	Model           string   `json:"model,omitempty"`
	Query           string   `json:"query"`
	Documents       []string `json:"documents"`
	TopN            int      `json:"top_n"`
	ReturnDocuments bool     `json:"return_documents"`
}

type response struct {
	Results []struct {
		Index          int      `json:"index"`
		RelevanceScore *float64 `json:"relevance_score"`
		Score          *float64 `json:"score"` // some servers' name for it
	} `json:"results"`
}

// Rerank returns one relevance score per document, higher is better, or
// an EUNAVAILABLE error when the endpoint fails, times out or answers
// something else than a score for every document.
func (c *Client) Rerank(ctx context.Context, query string, docs []string) ([]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	body, err := json.Marshal(request{Model: c.cfg.Model, Query: query, Documents: docs, TopN: len(docs)})
	if err != nil {
		return nil, fmt.Errorf("encode rerank request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build rerank request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, protostar.Errorf(protostar.EUNAVAILABLE, "rerank: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, protostar.Errorf(protostar.EUNAVAILABLE, "rerank: read answer: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, protostar.Errorf(protostar.EUNAVAILABLE, "rerank: status %d: %.200s", resp.StatusCode, raw)
	}
	return scores(raw, len(docs))
}

// scores reads a rerank answer into one score per document.
func scores(raw []byte, n int) ([]float64, error) {
	var out response
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, protostar.Errorf(protostar.EUNAVAILABLE, "rerank: decode answer: %v", err)
	}
	got := make([]float64, n)
	seen := make([]bool, n)
	for _, r := range out.Results {
		s := cmp.Or(r.RelevanceScore, r.Score)
		if r.Index < 0 || r.Index >= n || s == nil || seen[r.Index] {
			return nil, protostar.Errorf(protostar.EUNAVAILABLE, "rerank: answer has a bad or repeated result for index %d", r.Index)
		}
		got[r.Index], seen[r.Index] = *s, true
	}
	if len(out.Results) != n {
		return nil, protostar.Errorf(protostar.EUNAVAILABLE, "rerank: %d results for %d documents", len(out.Results), n)
	}
	return got, nil
}
