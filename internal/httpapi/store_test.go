package httpapi

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/testenv"
)

const otherKey = "other-key-0123456789abcdef"

// newStoreServer is the API over a real, migrated Postgres store of the
// stack (objects, search and the AI services stay fakes).
func newStoreServer(t *testing.T) *Server {
	t.Helper()
	deps := fakeDeps(&calls{})
	deps.Store = testenv.NewDB(t, 64)
	cfg := testConfig()
	cfg.Keys[otherKey] = "other"
	cfg.JobMaxAttempts = 5
	return New(slog.New(slog.DiscardHandler), deps, cfg)
}

// call sends one request as the holder of key and decodes a JSON answer
// into out, if given.
func call(t *testing.T, srv *Server, key, method, target, body string, out any) int {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := serve(t, srv, req)
	if out != nil && rec.Code < 300 && rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, target, rec.Body.String(), err)
		}
	}
	return rec.Code
}

// TestDocumentHandlersOnARealStore: the documents and jobs handlers over
// Postgres: a submission creates a document and its job, the list pages
// with its cursor without repeating or skipping, and another tenant sees
// none of it.
func TestDocumentHandlersOnARealStore(t *testing.T) {
	t.Parallel()
	srv := newStoreServer(t)
	var ids []string
	for i := range 5 {
		var out struct {
			Document protostar.Document `json:"document"`
			Job      protostar.Job      `json:"job"`
		}
		if code := call(t, srv, testKey, http.MethodPost, "/v1/documents", fmt.Sprintf(`{"key":"docs/%d.md"}`, i), &out); code != http.StatusAccepted {
			t.Fatalf("submit %d: status %d", i, code)
		}
		if out.Document.ID == "" || out.Job.ID == "" || out.Job.DocumentID != out.Document.ID {
			t.Fatalf("submit %d: %+v", i, out)
		}
		ids = append(ids, out.Document.ID)
	}
	seen := map[string]bool{}
	cursor := ""
	for page := 0; ; page++ {
		var out struct {
			Documents  []protostar.Document `json:"documents"`
			NextCursor string               `json:"next_cursor"`
		}
		target := "/v1/documents?limit=2"
		if cursor != "" {
			target += "&cursor=" + cursor
		}
		if code := call(t, srv, testKey, http.MethodGet, target, "", &out); code != http.StatusOK {
			t.Fatalf("list page %d: status %d", page, code)
		}
		for _, d := range out.Documents {
			if seen[d.ID] {
				t.Fatalf("page %d repeats %s", page, d.ID)
			}
			seen[d.ID] = true
		}
		if cursor = out.NextCursor; cursor == "" || page > 5 {
			break
		}
	}
	if len(seen) != len(ids) {
		t.Fatalf("the pages listed %d documents, want %d", len(seen), len(ids))
	}
	tests := []struct {
		name, key, method, target string
		want                      int
	}{
		{"own document", testKey, http.MethodGet, "/v1/documents/" + ids[0], http.StatusOK},
		{"other tenant's document", otherKey, http.MethodGet, "/v1/documents/" + ids[0], http.StatusNotFound},
		{"other tenant deletes", otherKey, http.MethodDelete, "/v1/documents/" + ids[0], http.StatusNotFound},
		{"other tenant's list", otherKey, http.MethodGet, "/v1/documents?key=docs/0.md", http.StatusOK},
		{"own delete", testKey, http.MethodDelete, "/v1/documents/" + ids[1], http.StatusNoContent},
		{"deleted document", testKey, http.MethodGet, "/v1/documents/" + ids[1], http.StatusNotFound},
	}
	for _, tt := range tests {
		var out map[string]any
		if code := call(t, srv, tt.key, tt.method, tt.target, "", &out); code != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, code, tt.want)
		}
		if tt.name == "other tenant's list" {
			if docs, _ := out["documents"].([]any); len(docs) != 0 {
				t.Errorf("another tenant lists %d of acme's documents", len(docs))
			}
		}
	}
}
