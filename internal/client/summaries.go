package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/protostar/protostar"
)

// SummaryResult is the API's answer about a document summary. When Job is
// set (202 Accepted) the summary is being computed: wait for the job, then
// read it with Summary. Otherwise the embedded Summary holds it.
type SummaryResult struct {
	protostar.Summary
	Cached bool           `json:"cached"`
	Job    *protostar.Job `json:"job,omitempty"`
}

// Summarize asks for a summary of the document of the given length
// (short, medium or long; empty for the API's default, medium). It returns
// the stored summary when one exists for the document's current content,
// or the job that computes it.
func (c *Client) Summarize(ctx context.Context, documentID, length string) (SummaryResult, error) {
	var body struct {
		Length string `json:"length,omitempty"`
	}
	body.Length = length
	var s SummaryResult
	_, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/documents/" + pathID(documentID) + "/summary", in: body}, &s)
	return s, err
}

// Summary returns the latest summary of the document, of the given length
// if not empty. No summary yet is an *Error with status 404.
func (c *Client) Summary(ctx context.Context, documentID, length string) (SummaryResult, error) {
	q := url.Values{}
	setQuery(q, "length", length)
	var s SummaryResult
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/documents/" + pathID(documentID) + "/summary", query: q}, &s)
	return s, err
}
