package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestOneStatusPerMistake: the same kind of mistake gets the same status
// whoever finds it, huma's schema validation or this package's decoders
// (an out-of-range top_k used to answer 422 and a bad key 400), and a
// Content-Type the operation does not accept is 415 on every operation
// (POST /v1/documents used to answer 422).
func TestOneStatusPerMistake(t *testing.T) {
	t.Parallel()
	srv, _ := newTestServer(t)
	tests := []struct {
		name, method, target, contentType, body string
		want                                    int
	}{
		{"schema: range", http.MethodPost, "/v1/search", "application/json", `{"query":"x","top_k":0}`, 400},
		{"schema: type", http.MethodPost, "/v1/search", "application/json", `{"query":7}`, 400},
		{"schema: unknown field", http.MethodPost, "/v1/search", "application/json", `{"query":"x","nope":1}`, 400},
		{"schema: query parameter", http.MethodGet, "/v1/documents?limit=0", "", "", 400},
		{"decoder: unknown field", http.MethodPost, "/v1/documents", "application/json", `{"key":"a.md","nope":1}`, 400},
		{"decoder: bad key", http.MethodPost, "/v1/documents", "application/json", `{"key":"../a.md"}`, 400},
		{"decoder: type", http.MethodPost, "/v1/documents", "application/json", `{"key":7}`, 400},
		{"syntax", http.MethodPost, "/v1/search", "application/json", `{"query":`, 400},
		{"media type: search", http.MethodPost, "/v1/search", "text/plain", `{"query":"x"}`, 415},
		{"media type: documents", http.MethodPost, "/v1/documents", "text/plain", `{"key":"a.md"}`, 415},
		{"media type: documents, none", http.MethodPost, "/v1/documents", "", `{"key":"a.md"}`, 415},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body))
			req.Header.Set("Authorization", "Bearer "+testKey)
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			rec := serve(t, srv, req)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.want, rec.Body.String())
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
				t.Fatalf("Content-Type %q, want problem+json", ct)
			}
		})
	}
}

// TestSpecDocumentsTheStatuses: the OpenAPI document promises 422 only
// where it can happen, and 400 wherever huma validates.
func TestSpecDocumentsTheStatuses(t *testing.T) {
	t.Parallel()
	srv, _ := newTestServer(t)
	rec := serve(t, srv, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	spec := decodeSpec(t, rec.Body.Bytes())
	for path, item := range spec.Paths {
		for method, op := range item {
			_, has422 := op.Responses["422"]
			if has422 != (op.OperationID == "answer") {
				t.Errorf("%s %s (%s): documents 422 = %v", method, path, op.OperationID, has422)
			}
			if _, ok := op.Responses["400"]; !ok && (strings.Contains(path, "{") || method == "post") {
				t.Errorf("%s %s: validated, but 400 is not documented", method, path)
			}
		}
	}
}

type specOp struct {
	OperationID string         `json:"operationId"`
	Responses   map[string]any `json:"responses"`
}

type spec struct {
	Paths map[string]map[string]specOp `json:"paths"`
}

func decodeSpec(t *testing.T, raw []byte) spec {
	t.Helper()
	var s spec
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("decode /openapi.json: %v", err)
	}
	if len(s.Paths) == 0 {
		t.Fatal("/openapi.json has no paths")
	}
	return s
}

// TestRetryAfterEverywhere: 429 and 503 carry Retry-After whichever writer
// answers, huma's, the plain one or a stream's (a streamed answer refused
// with 503 before its first event used to have none).
func TestRetryAfterEverywhere(t *testing.T) {
	t.Parallel()
	srv, _ := newTestServer(t)
	tests := []struct {
		name, body string
		want       int
	}{
		{"JSON answer", `{"question":"unavailable"}`, 503},
		{"streamed answer", `{"question":"unavailable","stream":true}`, 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/v1/answers", strings.NewReader(tt.body))
			req.Header.Set("Authorization", "Bearer "+testKey)
			req.Header.Set("Content-Type", "application/json")
			rec := serve(t, srv, req)
			if rec.Code != tt.want || rec.Header().Get("Retry-After") == "" {
				t.Fatalf("status %d, Retry-After %q; want %d with Retry-After: %s", rec.Code, rec.Header().Get("Retry-After"), tt.want, rec.Body.String())
			}
		})
	}
}
