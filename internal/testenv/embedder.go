package testenv

import (
	"encoding/json"
	"hash/fnv"
	"math"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Embedder is an OpenAI-compatible embeddings endpoint for tests that run
// the real openai provider: each request waits Delay, counts the texts of
// its model, and gets Vector's vectors (by default a unit vector that
// depends only on the text).
type Embedder struct {
	URL      string       // the base URL, ending in /v1
	Requests atomic.Int64 // requests answered or abandoned
	delay    atomic.Int64 // nanoseconds
	vector   func(model, text string, dims int) []float32

	mu    sync.Mutex
	texts map[string]int // by model
}

// NewEmbedder starts an endpoint, closed when the test ends. vector may
// be nil.
func NewEmbedder(t testing.TB, delay time.Duration, vector func(model, text string, dims int) []float32) *Embedder {
	e := &Embedder{vector: vector, texts: map[string]int{}}
	if e.vector == nil {
		e.vector = func(_, text string, dims int) []float32 { return TextVector(text, dims) }
	}
	e.delay.Store(int64(delay))
	srv := httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(srv.Close)
	e.URL = srv.URL + "/v1"
	return e
}

// SetDelay changes how long each request waits.
func (e *Embedder) SetDelay(d time.Duration) { e.delay.Store(int64(d)) }

// Texts returns how many texts the model embedded.
func (e *Embedder) Texts(model string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.texts[model]
}

func (e *Embedder) serve(w http.ResponseWriter, r *http.Request) {
	e.Requests.Add(1)
	var req struct {
		Input      []string `json:"input"`
		Model      string   `json:"model"`
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
	e.mu.Lock()
	e.texts[req.Model] += len(req.Input)
	e.mu.Unlock()
	type item struct {
		Object    string    `json:"object"`
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	}
	data := make([]item, len(req.Input))
	for i, text := range req.Input {
		data[i] = item{Object: "embedding", Index: i, Embedding: e.vector(req.Model, text, req.Dimensions)}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": req.Model,
		"usage": map[string]int{"prompt_tokens": 1, "total_tokens": 1}})
}

// TextVector is a unit vector that depends only on text.
func TextVector(text string, dims int) []float32 {
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
