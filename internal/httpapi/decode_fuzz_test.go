package httpapi

import (
	"bytes"
	"encoding/json"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/protostar/protostar"
)

// Fuzz targets for request decoding. `make test` runs each briefly; for a
// longer run, e.g.:
//
//	go test -run='^$' -fuzz='^FuzzDecodeSubmission$' -fuzztime=10m ./internal/httpapi

// checkAnswer fails unless rec is a 2xx, or a 4xx with a problem body.
// A 5xx is always a bug: invalid input must be refused as the client's.
func checkAnswer(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code >= 500 || rec.Code < 200 || (rec.Code >= 300 && rec.Code < 400) {
		t.Fatalf("status %d: %s", rec.Code, rec.Body.Bytes())
	}
	if rec.Code < 400 {
		return
	}
	if mt, _, _ := mime.ParseMediaType(rec.Header().Get("Content-Type")); mt != "application/problem+json" {
		t.Fatalf("status %d with Content-Type %q: %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body.Bytes())
	}
	var p struct {
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != rec.Code || p.Detail == "" {
		t.Fatalf("status %d with a bad problem body (%v): %s", rec.Code, err, rec.Body.Bytes())
	}
}

func FuzzValidateKey(f *testing.F) {
	for _, k := range []string{"notes/a.md", "a", "../x", "a/../b", "/abs", `a\b`, "a//b", "a/", "./a", "a/.",
		"노트/한국어.md", "a\x00b", "a\nb", "\xff", "a\u202eb", strings.Repeat("a", protostar.MaxKeyBytes+1)} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if protostar.ValidateKey(key) != nil {
			return
		}
		// An accepted key is a clean, relative path of printable UTF-8.
		switch {
		case key == "" || len(key) > protostar.MaxKeyBytes:
			t.Fatalf("accepted key of %d bytes", len(key))
		case !utf8.ValidString(key):
			t.Fatalf("accepted invalid UTF-8 %q", key)
		case path.IsAbs(key) || strings.ContainsRune(key, '\\'):
			t.Fatalf("accepted absolute or backslashed key %q", key)
		case path.Clean(key) != key || key == "." || key == ".." || strings.HasPrefix(key, "../"):
			t.Fatalf("accepted non-canonical key %q (clean: %q)", key, path.Clean(key))
		case strings.ContainsFunc(key, unicode.IsControl):
			t.Fatalf("accepted control characters in %q", key)
		}
	})
}

// multipartBody builds a multipart body for seeds.
func multipartBody(fields map[string]string, fileName, content string) (string, []byte) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, v := range fields {
		_ = w.WriteField(k, v)
	}
	if fileName != "" {
		fw, _ := w.CreateFormFile("file", fileName)
		_, _ = fw.Write([]byte(content))
	}
	_ = w.Close()
	return w.FormDataContentType(), b.Bytes()
}

func FuzzDecodeSubmission(f *testing.F) {
	for _, body := range []string{`{"key":"notes/a.md"}`, `{"key":"a.md","metadata":{"team":"infra","n":[1,{"x":null}]}}`,
		`{"key":"../x"}`, `{"key":42}`, `{"key":"a.md","metadata":{"a b":1}}`, `{"key":"a.md","metadata":{"t":"\u0000"}}`,
		`{"key":"a.md"} {}`, `{"key":"a.md","x":1}`, `null`, `[]`, "{\"key\":\"caf\xe9\"}", `{"key":"a.md","metadata":{"a":[[[[[[[[[[1]]]]]]]]]]}}`} {
		f.Add("application/json", []byte(body))
	}
	for _, mp := range []struct {
		fields         map[string]string
		file, contents string
	}{
		{map[string]string{"key": "notes/a.md"}, "a.md", "# A\n"},
		{map[string]string{"metadata": `{"team":"x"}`}, "b.md", "# B\n"},
		{map[string]string{"key": "../../etc/passwd"}, "a.md", "x"},
		{map[string]string{"key": "a.md", "metadata": `{"a') OR 1=1":1}`}, "a.md", "x"},
		{map[string]string{"key": "a.md"}, "", ""},
		{map[string]string{"key": "big.md"}, "big.md", strings.Repeat("x", testLimit+1)},
	} {
		ct, body := multipartBody(mp.fields, mp.file, mp.contents)
		f.Add(ct, body)
	}
	f.Add("text/plain", []byte("hello"))
	f.Add("", []byte(`{"key":"a.md"}`))
	f.Add("multipart/form-data", []byte("--x\r\n\r\n--x--"))

	srv, c := newTestServer(f)
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		c.reset()
		req := httptest.NewRequest(http.MethodPost, "/v1/documents", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testKey)
		req.Header.Set("Content-Type", contentType)
		rec := serve(t, srv, req)
		checkAnswer(t, rec)
		if rec.Code != http.StatusAccepted {
			if len(c.submissions) != 0 || len(c.puts) != 0 {
				t.Fatalf("refused with %d, yet submitted %v and stored %v", rec.Code, c.submissions, c.puts)
			}
			return
		}
		if len(c.submissions) != 1 {
			t.Fatalf("202 after %d submissions", len(c.submissions))
		}
		sub := c.submissions[0]
		if err := protostar.ValidateKey(sub.Key); err != nil {
			t.Fatalf("submitted an invalid key %q: %v", sub.Key, err)
		}
		if len(c.puts) > 1 || (len(c.puts) == 1 && c.puts[0] != protostar.ObjectKey(sub.TenantID, sub.Key)) {
			t.Fatalf("stored %v for key %q", c.puts, sub.Key)
		}
		if sub.TenantID != "acme" {
			t.Fatalf("tenant %q", sub.TenantID)
		}
		if sub.Metadata != nil {
			var meta map[string]any
			if !utf8.Valid(sub.Metadata) || json.Unmarshal(sub.Metadata, &meta) != nil || meta == nil {
				t.Fatalf("submitted metadata that is not a UTF-8 JSON object: %q", sub.Metadata)
			}
			if err := protostar.ValidateMetadata("metadata", meta); err != nil {
				t.Fatalf("submitted invalid metadata %s: %v", sub.Metadata, err)
			}
			if bytes.Contains(sub.Metadata, []byte(`\u0000`)) {
				t.Fatalf("submitted metadata with NUL, which jsonb refuses: %s", sub.Metadata)
			}
		}
	})
}

func FuzzSearchRequest(f *testing.F) {
	for _, body := range []string{`{"query":"데이터베이스 백업","top_k":5,"mode":"hybrid"}`, `{"query":"x","mode":"keyword"}`,
		`{"query":"x","filter":{"document_ids":["11111111-1111-4111-8111-111111111111"],"key_prefix":"notes/","metadata":{"team":"infra"}}}`,
		`{"query":"x","top_k":0}`, `{"query":"x","top_k":101}`, `{"query":"x","top_k":1e300}`, `{"query":"\u0000"}`, `{"query":""}`,
		`{"query":"x","filter":{"key_prefix":"\u0000"}}`, `{"query":"x","filter":{"metadata":{"a' OR 1=1":"b"}}}`, "{\"query\":\"\xff\"}",
		`{"query":"x","tenant_id":"beta"}`, `[]`, `null`, ``, `{"query":"x"}{"query":"y"}`} {
		f.Add([]byte(body))
	}
	srv, c := newTestServer(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		c.reset()
		req := httptest.NewRequest(http.MethodPost, "/v1/search", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testKey)
		req.Header.Set("Content-Type", "application/json")
		rec := serve(t, srv, req)
		checkAnswer(t, rec)
		if rec.Code != http.StatusOK {
			if len(c.searches) != 0 {
				t.Fatalf("refused with %d after searching", rec.Code)
			}
			return
		}
		if len(c.searches) != 1 {
			t.Fatalf("200 after %d searches", len(c.searches))
		}
		q := c.searches[0]
		if q.TenantID != "acme" || validQueryText(q.Query) != nil || !utf8.ValidString(q.Query) {
			t.Fatalf("searched %+v", q)
		}
		if strings.ContainsFunc(q.Filter.KeyPrefix, unicode.IsControl) || !utf8.ValidString(q.Filter.KeyPrefix) {
			t.Fatalf("searched with key_prefix %q", q.Filter.KeyPrefix)
		}
		for k, v := range q.Filter.Metadata {
			if protostar.ValidMetadataKey("k", k) != nil || validLabel("v", v, 1024) != nil {
				t.Fatalf("searched with metadata filter %q=%q", k, v)
			}
		}
	})
}

// FuzzRequest sends arbitrary methods, paths, queries and bodies to every
// route: whatever arrives, the answer is a 2xx or a 4xx problem.
func FuzzRequest(f *testing.F) {
	for _, s := range []struct {
		method       uint8
		target, body string
	}{
		{0, "documents?status=ready&limit=5", ""},
		{0, "documents?limit=0&cursor=%FF", ""},
		{0, "documents?key=%00", ""},
		{0, "documents/" + knownDoc, ""},
		{0, "documents/" + knownDoc + "/summary?length=short", ""},
		{1, "documents/" + knownDoc + "/summary", `{"length":"long"}`},
		{1, "documents/" + knownDoc + "/reindex", ""},
		{2, "documents/" + knownDoc, ""},
		{0, "jobs/" + knownJob, ""},
		{0, "jobs/" + knownJob + "/events", ""},
		{0, "jobs?status=queued&limit=100", ""},
		{1, "answers", `{"question":"why?","stream":true}`},
		{1, "answers", `{"question":"why?","top_k":3,"filter":{"key_prefix":"a/"}}`},
		{1, "search", `{"query":"x"}`},
		{3, "documents", `{}`},
		{0, "documents/../jobs", ""},
		{0, "nope", ""},
		{0, "documents?limit=1&limit=2", ""},
	} {
		f.Add(s.method, s.target, []byte(s.body))
	}
	methods := []string{http.MethodGet, http.MethodPost, http.MethodDelete, http.MethodPut, http.MethodPatch, http.MethodHead, http.MethodOptions}
	srv, c := newTestServer(f)
	f.Fuzz(func(t *testing.T, method uint8, target string, body []byte) {
		c.reset()
		req, err := http.NewRequest(methods[int(method)%len(methods)], "http://api.test/v1/"+target, bytes.NewReader(body))
		if err != nil {
			return // not a request a client could send
		}
		req.Header.Set("Authorization", "Bearer "+testKey)
		req.Header.Set("Content-Type", "application/json")
		rec := serve(t, srv, req)
		checkAnswer(t, rec)
		if rec.Code >= 400 && (c.mutations != 0 || len(c.submissions) != 0 || len(c.puts) != 0) {
			t.Fatalf("refused with %d after changing something", rec.Code)
		}
	})
}

// TestBodyLimitFollowsConfig checks that every operation that takes a
// body refuses one over PROTOSTAR_MAX_JSON_BYTES with 413 and takes one of
// exactly that size, whoever reads it (huma or the handler).
func TestBodyLimitFollowsConfig(t *testing.T) {
	srv, _ := newTestServer(t)
	for _, target := range []string{"/v1/documents", "/v1/search", "/v1/answers", "/v1/documents/" + knownDoc + "/summary"} {
		for _, size := range []int{testLimit, testLimit + 1} {
			// A JSON object padded with spaces to exactly size bytes.
			body := []byte(`{}`)
			body = append(body[:1], append(bytes.Repeat([]byte(" "), size-len(body)), '}')...)
			req := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+testKey)
			req.Header.Set("Content-Type", "application/json")
			rec := serve(t, srv, req)
			if tooLarge := rec.Code == http.StatusRequestEntityTooLarge; tooLarge != (size > testLimit) {
				t.Errorf("POST %s with %d bytes (limit %d): %d %s", target, size, testLimit, rec.Code, rec.Body.Bytes())
			}
		}
	}
}

// TestRoutingProblems checks that what the mux would answer with plain
// text or a redirect gets a problem instead.
func TestRoutingProblems(t *testing.T) {
	srv, _ := newTestServer(t)
	for _, tt := range []struct {
		method, target string
		want           int
		allow          string
	}{
		{http.MethodGet, "/v1/nope", http.StatusNotFound, ""},
		{http.MethodGet, "/v1", http.StatusNotFound, ""},
		{http.MethodGet, "/v1/documents/", http.StatusNotFound, ""},
		{http.MethodGet, "/v1/documents/" + knownDoc + "/../../jobs", http.StatusNotFound, ""},
		{http.MethodGet, "/v1/documents/..%2Fjobs", http.StatusNotFound, ""},
		{http.MethodPut, "/v1/documents", http.StatusMethodNotAllowed, "GET, POST"},
		{http.MethodPatch, "/v1/documents/" + knownDoc, http.StatusMethodNotAllowed, "GET, DELETE"},
		{http.MethodGet, "/v1/jobs?limit=1&limit=2", http.StatusBadRequest, ""},
	} {
		req := httptest.NewRequest(tt.method, tt.target, nil)
		req.Header.Set("Authorization", "Bearer "+testKey)
		rec := serve(t, srv, req)
		checkAnswer(t, rec)
		if rec.Code != tt.want || rec.Header().Get("Allow") != tt.allow {
			t.Errorf("%s %s = %d (Allow %q), want %d (Allow %q)", tt.method, tt.target, rec.Code, rec.Header().Get("Allow"), tt.want, tt.allow)
		}
	}
	// Without a key the route is not revealed.
	rec := serve(t, srv, httptest.NewRequest(http.MethodGet, "/v1/nope", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("unauthenticated unknown route = %d, want 401", rec.Code)
	}
}

func TestAuthorizationHeader(t *testing.T) {
	srv, _ := newTestServer(t)
	for _, tt := range []struct {
		header string
		want   int
	}{
		{"Bearer " + testKey, http.StatusOK},
		{"bearer " + testKey, http.StatusOK}, // the scheme is case-insensitive
		{"BEARER " + testKey, http.StatusOK},
		{"", http.StatusUnauthorized},
		{"Bearer", http.StatusUnauthorized},
		{"Bearer ", http.StatusUnauthorized},
		{testKey, http.StatusUnauthorized},
		{"Basic " + testKey, http.StatusUnauthorized},
		{"Bearer  " + testKey, http.StatusUnauthorized},
		{"Bearer " + strings.ToUpper(testKey), http.StatusUnauthorized},
		{"Bearer " + testKey[:len(testKey)-1], http.StatusUnauthorized},
		{"Bearer " + testKey + "x", http.StatusUnauthorized},
	} {
		req := httptest.NewRequest(http.MethodGet, "/v1/jobs", nil)
		if tt.header != "" {
			req.Header.Set("Authorization", tt.header)
		}
		rec := serve(t, srv, req)
		checkAnswer(t, rec)
		if rec.Code != tt.want {
			t.Errorf("Authorization %q: %d, want %d", tt.header, rec.Code, tt.want)
		}
	}
}
