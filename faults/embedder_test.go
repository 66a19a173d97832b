//go:build faults

package faults

import (
	"encoding/json"
	"hash/fnv"
	"math"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// slowEmbedder is an OpenAI-compatible embeddings endpoint whose every
// request takes delay: the way to make a job run as long as a scenario
// needs (past the job timeout, past the shutdown budget) through the
// worker's real openai provider. Its vectors are deterministic.
type slowEmbedder struct {
	srv      *httptest.Server
	delay    atomic.Int64 // nanoseconds
	requests atomic.Int64
}

func newSlowEmbedder(t *testing.T, delay time.Duration) *slowEmbedder {
	e := &slowEmbedder{}
	e.delay.Store(int64(delay))
	e.srv = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *slowEmbedder) setDelay(d time.Duration) { e.delay.Store(int64(d)) }

// env points a cluster's workers at the endpoint.
func (e *slowEmbedder) env() []string {
	return []string{"PROTOSTAR_EMBED_PROVIDER=openai", "PROTOSTAR_OPENAI_BASE_URL=" + e.srv.URL + "/v1",
		"PROTOSTAR_OPENAI_API_KEY=sk-faults", "PROTOSTAR_EMBED_MODEL=slow-embedder"}
}

func (e *slowEmbedder) serve(w http.ResponseWriter, r *http.Request) {
	e.requests.Add(1)
	var req struct {
		Input      []string `json:"input"`
		Dimensions int      `json:"dimensions"`
	}
	if r.URL.Path != "/v1/embeddings" || json.NewDecoder(r.Body).Decode(&req) != nil || req.Dimensions <= 0 {
		http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
		return
	}
	select {
	case <-time.After(time.Duration(e.delay.Load())):
	case <-r.Context().Done():
		return
	}
	type item struct {
		Object    string    `json:"object"`
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	}
	data := make([]item, len(req.Input))
	for i, text := range req.Input {
		data[i] = item{Object: "embedding", Index: i, Embedding: vectorOf(text, req.Dimensions)}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": "slow-embedder",
		"usage": map[string]int{"prompt_tokens": 1, "total_tokens": 1}})
}

// vectorOf is a unit vector that depends only on text.
func vectorOf(text string, dims int) []float32 {
	v := make([]float32, dims)
	var norm float64
	for i := range v {
		h := fnv.New32a()
		_, _ = h.Write([]byte{byte(i), byte(i >> 8)})
		_, _ = h.Write([]byte(text))
		v[i] = float32(h.Sum32()%2001)/1000 - 1
		norm += float64(v[i]) * float64(v[i])
	}
	for i := range v {
		v[i] /= float32(math.Sqrt(norm) + 1e-9)
	}
	return v
}
