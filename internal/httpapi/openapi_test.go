package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/protostar/protostar"
)

// snapshotPath is the committed OpenAPI document the TypeScript client is
// generated from.
const snapshotPath = "../../api/openapi.json"

// TestOpenAPISnapshot: a change to the API that is not in the committed
// document fails here, so the document and the client generated from it
// never drift from the server.
func TestOpenAPISnapshot(t *testing.T) {
	t.Parallel()
	got, err := OpenAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(snapshotPath)
	if err != nil {
		t.Fatalf("read the snapshot: %v; run `make openapi` to write it", err)
	}
	if !bytes.Equal(got, want) {
		var g, w any
		_ = json.Unmarshal(got, &g)
		_ = json.Unmarshal(want, &w)
		t.Fatalf("api/openapi.json is stale: run `make openapi` (it rewrites the document and the TypeScript client's types) and commit both.\n(-snapshot +server):\n%s",
			cmp.Diff(w, g))
	}
}

// TestOpenAPIServedIsTheSnapshot: /openapi.json serves the document the
// snapshot holds.
func TestOpenAPIServedIsTheSnapshot(t *testing.T) {
	t.Parallel()
	srv, _ := newTestServer(t)
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /openapi.json: %d", rec.Code)
	}
	doc, err := OpenAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	var served, built struct{ Paths map[string]any }
	if err := json.Unmarshal(rec.Body.Bytes(), &served); err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal(doc, &built)
	for path, item := range served.Paths { // this server has no webhook or account store
		if diff := cmp.Diff(built.Paths[path], item); diff != "" {
			t.Errorf("%s: served differs from the document (-document +served):\n%s", path, diff)
		}
	}
}

// TestOpenAPIOperations: every operation can be generated into a client:
// an operationId, a summary, a tag, problem answers for its errors with
// Retry-After on 429 and 503, and no array that may be null.
func TestOpenAPIOperations(t *testing.T) {
	t.Parallel()
	raw, err := OpenAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string   `json:"operationId"`
			Summary     string   `json:"summary"`
			Tags        []string `json:"tags"`
			Responses   map[string]struct {
				Headers map[string]any            `json:"headers"`
				Content map[string]map[string]any `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for path, item := range doc.Paths {
		if !strings.HasPrefix(path, "/v1/") {
			t.Errorf("%s: only /v1 routes belong in the document (hide others)", path)
		}
		for method, op := range item {
			name := strings.ToUpper(method) + " " + path
			if op.OperationID == "" || op.Summary == "" || len(op.Tags) == 0 {
				t.Errorf("%s: operationId %q, summary %q, tags %v", name, op.OperationID, op.Summary, op.Tags)
			}
			for _, status := range []string{"400", "401", "429", "500", "503"} {
				r, ok := op.Responses[status]
				if !ok || r.Content["application/problem+json"] == nil {
					t.Errorf("%s: no problem+json %s answer", name, status)
				}
				if (status == "429" || status == "503") && r.Headers["Retry-After"] == nil {
					t.Errorf("%s: %s does not document Retry-After", name, status)
				}
			}
		}
	}
	var doc2 map[string]any
	_ = json.Unmarshal(raw, &doc2)
	components := doc2["components"].(map[string]any)["schemas"].(map[string]any)
	for path, item := range doc2["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			if !hasExample(op, components, map[string]bool{}) {
				t.Errorf("%s %s: no example in its parameters, body or answers", strings.ToUpper(method), path)
			}
		}
	}
	var nullable []string
	walkJSON("", mustDecode(t, raw), func(at string, node map[string]any) {
		if types, ok := node["type"].([]any); ok && len(types) == 2 && (types[0] == "array" || types[1] == "array") {
			nullable = append(nullable, at)
		}
	})
	if len(nullable) > 0 {
		t.Errorf("arrays that may be null: %v", nullable)
	}
}

// hasExample reports whether v, following $refs to components, holds an
// example.
func hasExample(v any, components map[string]any, seen map[string]bool) bool {
	switch n := v.(type) {
	case map[string]any:
		if n["examples"] != nil || n["example"] != nil {
			return true
		}
		if ref, ok := n["$ref"].(string); ok {
			name := strings.TrimPrefix(ref, "#/components/schemas/")
			if seen[name] || name == "ErrorModel" { // every operation has problems: they don't count
				return false
			}
			seen[name] = true
			return hasExample(components[name], components, seen)
		}
		for _, c := range n {
			if hasExample(c, components, seen) {
				return true
			}
		}
	case []any:
		for _, c := range n {
			if hasExample(c, components, seen) {
				return true
			}
		}
	}
	return false
}

func mustDecode(t *testing.T, raw []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// walkJSON calls fn for every object in v.
func walkJSON(at string, v any, fn func(at string, node map[string]any)) {
	switch n := v.(type) {
	case map[string]any:
		fn(at, n)
		for k, c := range n {
			walkJSON(at+"/"+k, c, fn)
		}
	case []any:
		for i, c := range n {
			walkJSON(at+"/"+strconv.Itoa(i), c, fn)
		}
	}
}

// TestEncodeJSONArraysNeverNull: nil slices anywhere in a body are
// written as [], []byte and raw JSON are left alone, and the value
// encoded is not changed.
func TestEncodeJSONArraysNeverNull(t *testing.T) {
	t.Parallel()
	job := &protostar.Job{ID: "j"}
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"nil slice", []string(nil), `[]`},
		{"struct field", protostar.SearchHit{Key: "a"}, `{"chunk_id":0,"document_id":"","key":"a","heading_path":[],"text":"","score":0}`},
		{"nested in a slice", searchOutput{}.Body, `{"results":[]}`},
		{"slice of structs", []protostar.Citation{{Quote: "q"}}, `[{"index":0,"chunk_id":0,"document_id":"","key":"","heading_path":[],"quote":"q"}]`},
		{"pointer", &protostar.Webhook{ID: "w"}, `{"id":"w","url":"","description":"","event_types":[],"enabled":false,"created_at":"0001-01-01T00:00:00Z","updated_at":"0001-01-01T00:00:00Z"}`},
		{"interface", map[string]any{"x": 1}, `{"x":1}`},
		{"raw JSON kept", struct {
			M json.RawMessage `json:"m"`
		}{M: json.RawMessage(`{"a":1}`)}, `{"m":{"a":1}}`},
		{"nil pointer", (*protostar.Job)(nil), `null`},
		{"pointer without slices", job, `{"id":"j","type":"","status":"","progress":{"done":0,"total":0},"attempts":0,"max_attempts":0,"created_at":"0001-01-01T00:00:00Z"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := fmt.Sprintf("%#v", tt.in)
			got, err := marshalJSON(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if fmt.Sprintf("%#v", tt.in) != before {
				t.Errorf("the value encoded was changed")
			}
		})
	}
	shared := []protostar.Citation{{Quote: "q"}}
	if _, err := marshalJSON(shared); err != nil || shared[0].HeadingPath != nil {
		t.Errorf("a shared slice's element was written to: %v, %v", shared[0].HeadingPath, err)
	}
}
