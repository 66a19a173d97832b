package httpapi

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestOversizedPartsAreRefused: a key or metadata part over its limit is
// refused with 413 after reading at most the limit (a 10 MiB metadata part
// of a 4 KiB server), and nothing reaches the bucket or the store.
func TestOversizedPartsAreRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, part string
		size       int
	}{
		{"metadata part of 10 MiB", "metadata", 10 << 20},
		{"metadata part one byte over", "metadata", testLimit + 1},
		{"key part over the key limit", "key", 2048},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, calls := newTestServer(t)
			var body bytes.Buffer
			mw := multipart.NewWriter(&body)
			fw, _ := mw.CreateFormField(tt.part)
			_, _ = fw.Write([]byte(`{"k":"` + strings.Repeat("v", tt.size) + `"}`))
			ff, _ := mw.CreateFormFile("file", "a.md")
			_, _ = ff.Write([]byte("# A\n\nBody.\n"))
			_ = mw.Close()
			req := httptest.NewRequest(http.MethodPost, "/v1/documents", &body)
			req.Header.Set("Authorization", "Bearer "+testKey)
			req.Header.Set("Content-Type", mw.FormDataContentType())
			rec := serve(t, srv, req)
			if rec.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d, want 413: %.300s", rec.Code, rec.Body.String())
			}
			calls.mu.Lock()
			defer calls.mu.Unlock()
			if len(calls.puts) != 0 || len(calls.submissions) != 0 {
				t.Errorf("a refused upload stored %v and submitted %d", calls.puts, len(calls.submissions))
			}
		})
	}
}
