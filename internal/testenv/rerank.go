package testenv

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// Reranker is a rerank endpoint speaking the Cohere/Jina /v1/rerank wire
// format (TEI, vLLM, Infinity): a document scores how often it contains
// Word. While Down is set it answers 503, as a model still loading does.
type Reranker struct {
	URL  string // the endpoint, ending in /v1/rerank
	Word string
	Down atomic.Bool
}

// NewReranker starts a reranker preferring documents with word, closed
// when t ends.
func NewReranker(t testing.TB, word string) *Reranker {
	t.Helper()
	r := &Reranker{Word: word}
	srv := httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(srv.Close)
	r.URL = srv.URL + "/v1/rerank"
	return r
}

func (r *Reranker) serve(w http.ResponseWriter, req *http.Request) {
	if r.Down.Load() {
		http.Error(w, "model loading", http.StatusServiceUnavailable)
		return
	}
	var in struct {
		Documents []string `json:"documents"`
	}
	_ = json.NewDecoder(req.Body).Decode(&in)
	type result struct {
		Index int     `json:"index"`
		Score float64 `json:"relevance_score"`
	}
	out := []result{}
	for i, d := range in.Documents {
		out = append(out, result{i, float64(strings.Count(d, r.Word))})
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"results": out})
}
