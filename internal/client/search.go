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
}

// Search returns the best-matching chunks, best first.
func (c *Client) Search(ctx context.Context, req SearchRequest) ([]protostar.SearchHit, error) {
	var out struct {
		Results []protostar.SearchHit `json:"results"`
	}
	_, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/search", in: req}, &out)
	return out.Results, err
}
