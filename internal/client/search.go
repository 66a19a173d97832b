package client

import (
	"context"
	"net/http"

	"github.com/protostar/protostar"
)

// SearchRequest is a search. Zero values take the API's defaults (top 10,
// hybrid).
type SearchRequest struct {
	Query  string                 `json:"query"`
	TopK   int                    `json:"top_k,omitempty"`
	Mode   string                 `json:"mode,omitempty"` // hybrid, vector or keyword
	Filter protostar.SearchFilter `json:"filter,omitzero"`
	// Explain asks for each hit's Explain.
	Explain bool `json:"explain,omitempty"`
}

// SearchResponse is a search's answer.
type SearchResponse struct {
	Results []protostar.SearchHit `json:"results"`
	// Rerank is "reranked" or "unavailable" when the API has a rerank
	// stage, "" otherwise.
	Rerank string `json:"rerank,omitempty"`
}

// Search returns the best-matching chunks, best first.
func (c *Client) Search(ctx context.Context, req SearchRequest) ([]protostar.SearchHit, error) {
	res, err := c.SearchResponse(ctx, req)
	return res.Results, err
}

// SearchResponse is Search with everything the API answered.
func (c *Client) SearchResponse(ctx context.Context, req SearchRequest) (SearchResponse, error) {
	var out SearchResponse
	_, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/search", in: req}, &out)
	return out, err
}
