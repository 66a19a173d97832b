package openai

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	goopenai "github.com/sashabaranov/go-openai"

	"github.com/protostar/protostar"
)

func texts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("t%d", i)
	}
	return out
}

func inputsOf(reqs []seen) [][]string {
	out := make([][]string, len(reqs))
	for i, r := range reqs {
		out[i] = r.Body.Input
	}
	return out
}

func TestEmbedBatching(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		n, batch  int
		wantBatch [][]string
	}{
		{"empty input sends nothing", 0, 4, [][]string{}},
		{"three batches, last partial", 10, 4, [][]string{{"t0", "t1", "t2", "t3"}, {"t4", "t5", "t6", "t7"}, {"t8", "t9"}}},
		{"exact batches", 6, 3, [][]string{{"t0", "t1", "t2"}, {"t3", "t4", "t5"}}},
		{"default batch size 64", 65, 0, [][]string{texts(64), {"t64"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, req wireRequest) {
				writeEmbeddings(w, req, 4)
			})
			cfg := f.config()
			cfg.BatchSize = tt.batch
			e, err := NewEmbedder(testLogger(t), cfg)
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.Embed(t.Context(), texts(tt.n))
			if err != nil {
				t.Fatalf("Embed: %v", err)
			}
			want := make([][]float32, tt.n)
			for i, s := range texts(tt.n) {
				want[i] = vectorFor(s, 4)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("vectors (-want +got):\n%s", diff)
			}
			reqs := f.requests()
			if diff := cmp.Diff(tt.wantBatch, inputsOf(reqs)); diff != "" {
				t.Errorf("batches (-want +got):\n%s", diff)
			}
			for _, r := range reqs {
				if r.Method != http.MethodPost || r.Path != "/v1/embeddings" {
					t.Errorf("request %s %s, want POST /v1/embeddings", r.Method, r.Path)
				}
				if r.Auth != "Bearer "+testKey {
					t.Errorf("Authorization = %q, want the bearer key", r.Auth)
				}
				if r.Body.Model != "embed-test" || r.Body.Dimensions != 4 {
					t.Errorf("model %q dimensions %d, want embed-test and 4", r.Body.Model, r.Body.Dimensions)
				}
				if _, ok := r.Body.Raw["user"]; ok {
					t.Errorf("request sends a user field: %v", r.Body.Raw)
				}
			}
		})
	}
}

func TestEmbedNoKeyNoAuthorization(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, req wireRequest) {
		writeEmbeddings(w, req, 4)
	})
	cfg := f.config()
	cfg.APIKey = "" // Ollama
	e, err := NewEmbedder(testLogger(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Embed(t.Context(), texts(1)); err != nil {
		t.Fatal(err)
	}
	if auth := f.requests()[0].Auth; auth != "" {
		t.Errorf("Authorization = %q, want none", auth)
	}
}

func TestEmbedRetryAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		retryAfter func() string
		minWait    time.Duration
	}{
		{"seconds", func() string { return "1" }, 950 * time.Millisecond},
		// An HTTP date has whole seconds, so now+2s waits between 1 and 2 s.
		{"http date", func() string { return time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat) }, 950 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Batch 1 succeeds, batch 2 is rate limited once, then succeeds.
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, req wireRequest) {
				if n == 1 {
					w.Header().Set("Retry-After", tt.retryAfter())
					writeError(w, http.StatusTooManyRequests, "Rate limit reached for requests")
					return
				}
				writeEmbeddings(w, req, 4)
			})
			cfg := f.config()
			cfg.BatchSize = 2
			e, err := NewEmbedder(testLogger(t), cfg)
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.Embed(t.Context(), texts(4))
			if err != nil {
				t.Fatalf("Embed: %v", err)
			}
			if len(got) != 4 || got[3][0] != 3 {
				t.Errorf("got %v, want 4 vectors in order", got)
			}
			reqs := f.requests()
			want := [][]string{{"t0", "t1"}, {"t2", "t3"}, {"t2", "t3"}}
			if diff := cmp.Diff(want, inputsOf(reqs)); diff != "" {
				t.Fatalf("batches (-want +got):\n%s", diff)
			}
			if wait := reqs[2].At.Sub(reqs[1].At); wait < tt.minWait {
				t.Errorf("retried after %s, want at least %s", wait, tt.minWait)
			}
		})
	}
}

func TestEmbedPermanentErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status   int
		code     string
		wantText string
	}{
		{http.StatusBadRequest, protostar.EINVALID, "provider rejected the request (HTTP 400): boom 400"},
		{http.StatusUnauthorized, protostar.EINVALID, "provider rejected credentials (HTTP 401): boom 401"},
		{http.StatusForbidden, protostar.EINVALID, "provider rejected credentials (HTTP 403): boom 403"},
		{http.StatusNotFound, protostar.EINVALID, "provider rejected the request (HTTP 404): boom 404"},
		{http.StatusRequestEntityTooLarge, protostar.ETOOLARGE, "provider rejected the request (HTTP 413): boom 413"},
		{http.StatusUnprocessableEntity, protostar.EINVALID, "provider rejected the request (HTTP 422): boom 422"},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, req wireRequest) {
				// A provider echoing the key must not leak it.
				writeError(w, tt.status, fmt.Sprintf("boom %d (key %s)", tt.status, testKey))
			})
			var logs bytes.Buffer
			e, err := NewEmbedder(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), f.config())
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.Embed(t.Context(), texts(3))
			if err == nil {
				t.Fatal("Embed succeeded, want an error")
			}
			if n := len(f.requests()); n != 1 {
				t.Errorf("%d requests, want exactly 1", n)
			}
			if !protostar.IsPermanent(err) || protostar.ErrorCode(err) != tt.code {
				t.Errorf("code %s permanent %v, want %s and permanent: %v", protostar.ErrorCode(err), protostar.IsPermanent(err), tt.code, err)
			}
			if msg := protostar.ErrorMessage(err); !strings.Contains(msg, tt.wantText) {
				t.Errorf("message %q does not contain %q", msg, tt.wantText)
			}
			var apiErr *goopenai.APIError
			if !errors.As(err, &apiErr) || apiErr.HTTPStatusCode != tt.status {
				t.Errorf("cause is not the provider's *APIError with status %d: %v", tt.status, err)
			}
			if strings.Contains(err.Error(), testKey) || strings.Contains(logs.String(), testKey) {
				t.Errorf("the API key leaked: error %q, logs %q", err, logs.String())
			}
		})
	}
}

func TestEmbedTransientErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		failures  int // requests that fail before success
		fail      func(w http.ResponseWriter)
		wantErr   bool
		wantCalls int
	}{
		{"500 then success", 1, func(w http.ResponseWriter) { writeError(w, 500, "internal") }, false, 2},
		{"503 non-JSON body then success", 1, func(w http.ResponseWriter) { http.Error(w, "<html>bad gateway</html>", 503) }, false, 2},
		{"connection reset then success", 1, func(w http.ResponseWriter) { panic(http.ErrAbortHandler) }, false, 2},
		{"502 until attempts run out", 99, func(w http.ResponseWriter) { writeError(w, 502, "upstream down") }, true, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, req wireRequest) {
				if n < tt.failures {
					tt.fail(w)
					return
				}
				writeEmbeddings(w, req, 4)
			})
			e, err := NewEmbedder(testLogger(t), f.config()) // MaxAttempts 3
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.Embed(t.Context(), texts(2))
			if n := len(f.requests()); n != tt.wantCalls {
				t.Errorf("%d requests, want %d", n, tt.wantCalls)
			}
			for _, r := range f.requests() {
				if diff := cmp.Diff([]string{"t0", "t1"}, r.Body.Input); diff != "" {
					t.Errorf("retry did not resend the whole batch (-want +got):\n%s", diff)
				}
			}
			if !tt.wantErr {
				if err != nil || len(got) != 2 {
					t.Fatalf("Embed = %v, %v; want 2 vectors", got, err)
				}
				return
			}
			if protostar.ErrorCode(err) != protostar.EUNAVAILABLE || protostar.IsPermanent(err) {
				t.Errorf("err = %v (code %s), want EUNAVAILABLE", err, protostar.ErrorCode(err))
			}
			var apiErr *goopenai.APIError
			if !errors.As(err, &apiErr) || apiErr.Message != "upstream down" {
				t.Errorf("err does not wrap the last provider error: %v", err)
			}
		})
	}
}

func TestEmbedDimensionMismatch(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, req wireRequest) {
		writeEmbeddings(w, req, 3)
	})
	e, err := NewEmbedder(testLogger(t), f.config()) // Dimensions 4
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Embed(t.Context(), texts(2))
	if protostar.ErrorCode(err) != protostar.EINVALID {
		t.Fatalf("err = %v, want EINVALID", err)
	}
	want := "embedding model embed-test returned 3-dimensional vectors but 4 dimensions are configured"
	if msg := protostar.ErrorMessage(err); msg != want {
		t.Errorf("message %q, want %q", msg, want)
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestEmbedBadResponse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want string
	}{
		{"too few", `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[1,2,3,4]}],"model":"m"}`, "returned 1 embeddings for 2 texts"},
		{"repeated index", `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[1,2,3,4]},{"object":"embedding","index":0,"embedding":[1,2,3,4]}],"model":"m"}`, "invalid or repeated embedding index 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, req wireRequest) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(tt.body))
			})
			e, err := NewEmbedder(testLogger(t), f.config())
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.Embed(t.Context(), texts(2))
			if !protostar.IsPermanent(err) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want a permanent error containing %q", err, tt.want)
			}
		})
	}
}

func TestEmbedContextCancelStopsRetries(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var calls atomic.Int32
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, req wireRequest) {
		calls.Add(1)
		w.Header().Set("Retry-After", "5") // a long wait that cancel must cut short
		writeError(w, http.StatusTooManyRequests, "slow down")
		cancel()
	})
	e, err := NewEmbedder(testLogger(t), f.config())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = e.Embed(ctx, texts(2))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Embed returned after %s, want promptly", d)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestEmbedRetryBudget(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, req wireRequest) {
		w.Header().Set("Retry-After", "30")
		writeError(w, http.StatusTooManyRequests, "slow down")
	})
	cfg := f.config()
	cfg.MaxElapsed = 2 * time.Second
	e, err := NewEmbedder(testLogger(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = e.Embed(t.Context(), texts(1))
	if protostar.ErrorCode(err) != protostar.EUNAVAILABLE {
		t.Errorf("err = %v, want EUNAVAILABLE", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("gave up after %s; a Retry-After beyond the budget should fail at once", d)
	}
}

func TestEmbedThrottle(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, req wireRequest) {
		writeEmbeddings(w, req, 4)
	})
	cfg := f.config()
	cfg.BatchSize = 1
	cfg.RequestsPerSecond = 20 // 50 ms apart
	e, err := NewEmbedder(testLogger(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Embed(t.Context(), texts(4)); err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	if d := reqs[3].At.Sub(reqs[0].At); d < 140*time.Millisecond {
		t.Errorf("4 requests at 20/s took %s, want about 150ms", d)
	}
}

func TestEmbedDimensionsField(t *testing.T) {
	t.Parallel()
	for _, omit := range []bool{false, true} {
		t.Run(fmt.Sprintf("omit=%t", omit), func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, req wireRequest) {
				writeEmbeddings(w, req, 4)
			})
			cfg := f.config()
			cfg.OmitDimensions = omit
			e, err := NewEmbedder(testLogger(t), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.Embed(t.Context(), texts(2)); err != nil {
				t.Fatal(err)
			}
			dims, sent := f.requests()[0].Body.Raw["dimensions"]
			if sent == omit || (sent && dims != float64(4)) {
				t.Errorf("request dimensions = %v (sent %t), want sent %t with 4", dims, sent, !omit)
			}
		})
	}
}
