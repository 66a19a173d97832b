package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/protostar/protostar/internal/openai"
)

// TestSimProvider: the simulated provider answers the OpenAI wire format,
// refuses requests over its per-minute limit with 429 and Retry-After, and
// protostar's openai provider gets through by waiting.
func TestSimProvider(t *testing.T) {
	t.Parallel()
	cfg := simConfig{Latency: time.Millisecond, PerToken: time.Microsecond, RPM: 60, TPM: 1_000_000, Dims: 8, ModelName: "sim"}
	sim, err := startSimProvider(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	post := func() *http.Response {
		body, _ := json.Marshal(map[string]any{"model": "sim", "input": []string{"데이터베이스 튜닝", "backup"}})
		resp, err := http.Post(sim.BaseURL()+"/embeddings", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	// One request a second, no burst beyond it: the first passes, the
	// second is refused.
	first := post()
	var out struct {
		Data []struct {
			Index     int       `json:"index"`
			Embedding []float32 `json:"embedding"`
		} `json:"data"`
		Usage struct {
			PromptTokens int `json:"prompt_tokens"`
		} `json:"usage"`
	}
	if err := json.NewDecoder(first.Body).Decode(&out); err != nil || first.StatusCode != http.StatusOK {
		t.Fatalf("first request: %d, %v", first.StatusCode, err)
	}
	if len(out.Data) != 2 || len(out.Data[1].Embedding) != 8 || out.Usage.PromptTokens == 0 {
		t.Errorf("response = %+v, want 2 embeddings of 8 and the token count", out)
	}
	second := post()
	ms, _ := strconv.Atoi(second.Header.Get("Retry-After-Ms"))
	if second.StatusCode != http.StatusTooManyRequests || second.Header.Get("Retry-After") != "1" || ms < 500 || ms > 1000 {
		t.Errorf("second request: %d, Retry-After %q, Retry-After-Ms %q; want 429 within a second",
			second.StatusCode, second.Header.Get("Retry-After"), second.Header.Get("Retry-After-Ms"))
	}
	emb, err := openai.NewEmbedder(slog.New(slog.DiscardHandler), openai.Config{BaseURL: sim.BaseURL(), EmbedModel: "sim",
		Dimensions: 8, MaxAttempts: 5})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := emb.Embed(t.Context(), []string{"x"}); err != nil {
		t.Fatalf("the provider did not get through: %v", err)
	}
	if s := sim.Stats(); s.OK != 2 || s.Throttled < 2 || s.RetriedOK != 1 {
		t.Errorf("stats = %+v, want 2 ok, at least 2 throttled, 1 retried with success", s)
	}
}
