package rerank

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/protostar/protostar"
)

// server answers rerank requests as TEI, vLLM and Infinity do: relevance
// is the document's length here, results best first.
func server(t *testing.T, handle func(w http.ResponseWriter, r *http.Request)) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(handle))
	t.Cleanup(s.Close)
	return s.URL + "/v1/rerank"
}

func cohere(t *testing.T) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Model           string   `json:"model"`
			Query           string   `json:"query"`
			Documents       []string `json:"documents"`
			TopN            int      `json:"top_n"`
			ReturnDocuments *bool    `json:"return_documents"`
		}
		if r.URL.Path != "/v1/rerank" || r.Method != http.MethodPost || r.Header.Get("Authorization") != "Bearer k" ||
			json.NewDecoder(r.Body).Decode(&req) != nil || req.Model != "bge-reranker" || req.Query != "q" ||
			req.TopN != len(req.Documents) || req.ReturnDocuments == nil || *req.ReturnDocuments {
			t.Errorf("unexpected request %s %s %+v", r.Method, r.URL.Path, req)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		type result struct {
			Index int     `json:"index"`
			Score float64 `json:"relevance_score"`
		}
		var out []result
		for i, d := range req.Documents {
			out = append(out, result{i, float64(len(d))})
		}
		slices.SortFunc(out, func(a, b result) int { return int(b.Score - a.Score) })
		_ = json.NewEncoder(w).Encode(map[string]any{"id": "x", "results": out})
	}
}

func TestRerankScoresEveryDocument(t *testing.T) {
	t.Parallel()
	c := New(Config{URL: server(t, cohere(t)), Model: "bge-reranker", APIKey: "k"}, nil)
	got, err := c.Rerank(context.Background(), "q", []string{"a", "abc", "ab"})
	if err != nil || !slices.Equal(got, []float64{1, 3, 2}) {
		t.Fatalf("Rerank = %v, %v; want [1 3 2]", got, err)
	}
}

func TestRerankFailuresAreUnavailable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		handle func(w http.ResponseWriter, r *http.Request)
	}{
		{"server error", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "model loading", http.StatusServiceUnavailable)
		}},
		{"too slow", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(time.Second):
			}
		}},
		{"not JSON", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("<html>")) }},
		{"a result missing", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"results":[{"index":0,"relevance_score":0.5}]}`))
		}},
		{"an index out of range", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"results":[{"index":0,"relevance_score":0.5},{"index":7,"relevance_score":0.1}]}`))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := New(Config{URL: server(t, tt.handle), Timeout: 200 * time.Millisecond}, nil)
			start := time.Now()
			_, err := c.Rerank(context.Background(), "q", []string{"a", "b"})
			if protostar.ErrorCode(err) != protostar.EUNAVAILABLE {
				t.Fatalf("err = %v, want unavailable", err)
			}
			if time.Since(start) > 2*time.Second {
				t.Fatalf("took %s, beyond the timeout", time.Since(start))
			}
		})
	}
}

func TestRerankAcceptsScoreField(t *testing.T) {
	t.Parallel()
	url := server(t, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"results":[{"index":1,"score":0.9},{"index":0,"score":0.2}]}`))
	})
	got, err := New(Config{URL: url}, nil).Rerank(context.Background(), "q", []string{"a", "b"})
	if err != nil || !slices.Equal(got, []float64{0.2, 0.9}) {
		t.Fatalf("Rerank = %v, %v", got, err)
	}
}
