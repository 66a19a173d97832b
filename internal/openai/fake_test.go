package openai

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const testKey = "sk-test-0123456789"

// wireRequest is the part of an OpenAI request body the fake looks at.
type wireRequest struct {
	Model      string   `json:"model"`
	Input      []string `json:"input"`
	Dimensions int      `json:"dimensions"`
	Stream     bool     `json:"stream"`
	Messages   []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
	Raw map[string]any `json:"-"`
}

// seen is one request the fake received.
type seen struct {
	Method, Path, Auth string
	Body               wireRequest
	At                 time.Time
}

// fake is an httptest server speaking the OpenAI wire format through a
// per-test handler; n counts requests from 0.
type fake struct {
	srv *httptest.Server
	mu  sync.Mutex
	log []seen
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, n int, req wireRequest)

func newFake(t *testing.T, h handlerFunc) *fake {
	t.Helper()
	f := &fake{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read request body: %v", err)
			return
		}
		var req wireRequest
		if err := json.Unmarshal(body, &req); err != nil {
			t.Errorf("request body is not JSON: %v: %s", err, body)
		}
		_ = json.Unmarshal(body, &req.Raw)
		f.mu.Lock()
		n := len(f.log)
		f.log = append(f.log, seen{Method: r.Method, Path: r.URL.Path, Auth: r.Header.Get("Authorization"), Body: req, At: time.Now()})
		f.mu.Unlock()
		h(w, r, n, req)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.log...)
}

// config is a fast test configuration pointing at the fake. BaseURL is the
// bare server URL on purpose: normalisation must append /v1.
func (f *fake) config() Config {
	return Config{
		BaseURL:           f.srv.URL,
		APIKey:            testKey,
		EmbedModel:        "embed-test",
		Dimensions:        4,
		ChatModel:         "chat-test",
		RequestsPerSecond: math.Inf(1),
		MaxAttempts:       3,
		MaxElapsed:        10 * time.Second,
		Timeout:           5 * time.Second,
		HTTPClient:        f.srv.Client(),
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// vectorFor is the fake's embedding of a text such as "t7": every element
// encodes the text's number, so order mistakes are visible.
func vectorFor(text string, dims int) []float32 {
	n, _ := strconv.Atoi(strings.TrimPrefix(text, "t"))
	v := make([]float32, dims)
	for i := range v {
		v[i] = float32(n) + float32(i)/10
	}
	return v
}

// writeEmbeddings answers an embeddings request with data in reverse index
// order, as servers may.
func writeEmbeddings(w http.ResponseWriter, req wireRequest, dims int) {
	type item struct {
		Object    string    `json:"object"`
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	}
	data := make([]item, 0, len(req.Input))
	for i := len(req.Input) - 1; i >= 0; i-- {
		data = append(data, item{Object: "embedding", Index: i, Embedding: vectorFor(req.Input[i], dims)})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"object": "list", "data": data, "model": req.Model,
		"usage": map[string]int{"prompt_tokens": len(req.Input), "total_tokens": len(req.Input)},
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers in OpenAI's error format.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "type": "invalid_request_error", "param": nil, "code": nil}})
}

func writeCompletion(w http.ResponseWriter, content string) {
	writeJSON(w, http.StatusOK, map[string]any{
		"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "chat-test",
		"choices": []any{map[string]any{
			"index": 0, "message": map[string]string{"role": "assistant", "content": content}, "finish_reason": "stop",
		}},
		"usage": map[string]int{"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
	})
}

// sse writes a streamed chat completion event by event.
type sse struct {
	w http.ResponseWriter
}

func startSSE(w http.ResponseWriter) sse {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	s := sse{w: w}
	s.event(`{"role":"assistant","content":""}`, "null")
	return s
}

func (s sse) event(delta, finish string) {
	fmt.Fprintf(s.w, "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"chat-test\",\"choices\":[{\"index\":0,\"delta\":%s,\"finish_reason\":%s}]}\n\n", delta, finish)
	s.w.(http.Flusher).Flush()
}

func (s sse) delta(content string) {
	b, _ := json.Marshal(map[string]string{"content": content})
	s.event(string(b), "null")
}

func (s sse) done() {
	s.event(`{}`, `"stop"`)
	fmt.Fprint(s.w, "data: [DONE]\n\n")
	s.w.(http.Flusher).Flush()
}
