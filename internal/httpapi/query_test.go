package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRequestsAreNotMisreadOrEchoed: a malformed query string, a repeated
// or unknown parameter answers 400 instead of being dropped in silence (a
// broken cursor used to give the first page, so a pager looped forever),
// and no problem echoes a large input back in full.
func TestRequestsAreNotMisreadOrEchoed(t *testing.T) {
	t.Parallel()
	srv, _ := newTestServer(t)
	nested := strings.Repeat("[", 1900) + strings.Repeat("]", 1900) // under the test server's 4 KiB body limit
	longName := strings.Repeat("p", 5000)
	tests := []struct {
		name, method, target, body string
		want                       int
	}{
		{"bad percent-encoding", http.MethodGet, "/v1/documents?cursor=%%%", "", 400},
		{"repeated parameter", http.MethodGet, "/v1/documents?limit=1&limit=2", "", 400},
		{"unknown parameter", http.MethodGet, "/v1/documents?limt=5", "", 400},
		{"long unknown parameter", http.MethodGet, "/v1/documents?" + longName + "=1", "", 400},
		{"declared parameters", http.MethodGet, "/v1/documents?limit=5&status=ready", "", 200},
		{"nested brackets in a search", http.MethodPost, "/v1/search", `{"query":` + nested + `}`, 0},
		{"nested brackets in a filter", http.MethodPost, "/v1/search", `{"query":"x","filter":` + nested + `}`, 0},
		{"long mode", http.MethodPost, "/v1/search", `{"query":"x","mode":"` + strings.Repeat("m", 3900) + `"}`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body))
			req.Header.Set("Authorization", "Bearer "+testKey)
			if tt.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			rec := serve(t, srv, req)
			if tt.want != 0 && rec.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.want, rec.Body.String())
			}
			if rec.Code >= 400 && rec.Body.Len() > 1024 {
				t.Fatalf("a %d problem of %d bytes echoes the input: %.300s…", rec.Code, rec.Body.Len(), rec.Body.String())
			}
		})
	}
}
