package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/protostar/protostar/internal/testenv"
)

type docJSON struct {
	ID          string         `json:"id"`
	Key         string         `json:"key"`
	Status      string         `json:"status"`
	Version     int            `json:"version"`
	ChunkCount  int            `json:"chunk_count"`
	ContentHash string         `json:"content_hash"`
	Metadata    map[string]any `json:"metadata"`
	Error       string         `json:"error"`
}

type jobJSON struct {
	ID           string `json:"id"`
	Type         string `json:"type"`
	Status       string `json:"status"`
	Attempts     int    `json:"attempts"`
	MaxAttempts  int    `json:"max_attempts"`
	Error        string `json:"error"`
	DocumentID   string `json:"document_id"`
	DispatchedAt *time.Time
	Progress     struct{ Done, Total int }
	Result       struct {
		ChunksTotal    int   `json:"chunks_total"`
		ChunksEmbedded int   `json:"chunks_embedded"`
		ChunksReused   int   `json:"chunks_reused"`
		BytesRead      int64 `json:"bytes_read"`
	} `json:"result"`
}

type accepted struct {
	Document docJSON `json:"document"`
	Job      jobJSON `json:"job"`
}

type searchResults struct {
	Space   int64 `json:"embedding_space"`
	Results []struct {
		ChunkID     int64    `json:"chunk_id"`
		DocumentID  string   `json:"document_id"`
		Key         string   `json:"key"`
		HeadingPath []string `json:"heading_path"`
		Text        string   `json:"text"`
		Score       float64  `json:"score"`
	} `json:"results"`
}

// upload posts content as a multipart file under key.
func (p *proc) upload(key, apiKey string, content []byte) (int, []byte) {
	p.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	_ = w.WriteField("key", key)
	fw, _ := w.CreateFormFile("file", "upload.md")
	_, _ = fw.Write(content)
	_ = w.Close()
	return p.raw(http.MethodPost, "/v1/documents", apiKey, w.FormDataContentType(), &body)
}

func (p *proc) mustUpload(key, apiKey string, content []byte) accepted {
	p.t.Helper()
	code, body := p.upload(key, apiKey, content)
	if code != http.StatusAccepted {
		p.t.Fatalf("upload %s: %d %s", key, code, body)
	}
	return decode[accepted](p.t, body)
}

// waitJob polls a job until it is finished and returns it.
func (p *proc) waitJob(id, apiKey string, timeout time.Duration) jobJSON {
	p.t.Helper()
	var j jobJSON
	testenv.WaitFor(p.t, timeout, "job "+id+" to finish", func() bool {
		code, body := p.get("/v1/jobs/"+id, apiKey)
		if code != http.StatusOK {
			return false
		}
		j = decode[jobJSON](p.t, body)
		return j.Status == "succeeded" || j.Status == "failed" || j.Status == "canceled"
	})
	return j
}

func (p *proc) doc(id, apiKey string) docJSON {
	p.t.Helper()
	code, body := p.get("/v1/documents/"+id, apiKey)
	if code != http.StatusOK {
		p.t.Fatalf("get document %s: %d %s", id, code, body)
	}
	return decode[docJSON](p.t, body)
}

func (p *proc) search(apiKey string, req map[string]any) searchResults {
	p.t.Helper()
	code, body := p.do(http.MethodPost, "/v1/search", apiKey, req)
	if code != http.StatusOK {
		p.t.Fatalf("search %v: %d %s", req, code, body)
	}
	return decode[searchResults](p.t, body)
}

func TestIngestSearchAndReindex(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	p := s.start("all")
	src, err := os.ReadFile("testdata/mixed.md")
	if err != nil {
		t.Fatal(err)
	}

	acc := p.mustUpload("guides/db.md", keyA, src)
	if acc.Document.Status != "pending" || acc.Job.Status != "queued" || acc.Job.Type != "ingest" {
		t.Fatalf("202 body = %+v", acc)
	}
	j := p.waitJob(acc.Job.ID, keyA, 60*time.Second)
	if j.Status != "succeeded" {
		t.Fatalf("ingest job = %+v", j)
	}
	d := p.doc(acc.Document.ID, keyA)
	if d.Status != "ready" || d.ChunkCount == 0 || j.Result.ChunksEmbedded != d.ChunkCount || j.Result.BytesRead != int64(len(src)) {
		t.Fatalf("document %+v after job %+v", d, j)
	}
	if d.Metadata["team"] != "infra" {
		t.Errorf("front matter not merged into metadata: %v", d.Metadata)
	}

	for _, mode := range []string{"hybrid", "vector", "keyword"} {
		res := p.search(keyA, map[string]any{"query": "데이터베이스 백업", "mode": mode, "top_k": 5})
		if len(res.Results) == 0 || res.Results[0].DocumentID != d.ID {
			t.Errorf("%s search found %+v", mode, res.Results)
		}
	}
	// A stem query finds the form with a particle attached (데이터베이스를).
	res := p.search(keyA, map[string]any{"query": "데이터베이스", "mode": "keyword"})
	found := false
	for _, r := range res.Results {
		found = found || strings.Contains(r.Text, "데이터베이스를")
	}
	if !found {
		t.Errorf("keyword search for the stem did not find 데이터베이스를: %+v", res.Results)
	}
	// Breadcrumbs and filters.
	res = p.search(keyA, map[string]any{"query": "HNSW ef_search", "mode": "keyword", "top_k": 1})
	if len(res.Results) != 1 || !strings.Contains(strings.Join(res.Results[0].HeadingPath, "/"), "인덱스 튜닝") {
		t.Errorf("heading path of the index section = %+v", res.Results)
	}
	if r := p.search(keyA, map[string]any{"query": "backup", "filter": map[string]any{"key_prefix": "other/"}}); len(r.Results) != 0 {
		t.Errorf("key_prefix filter leaked %d results", len(r.Results))
	}
	if r := p.search(keyA, map[string]any{"query": "backup", "filter": map[string]any{"metadata": map[string]string{"team": "infra"}}}); len(r.Results) == 0 {
		t.Errorf("metadata filter from front matter found nothing")
	}

	// The same content again re-embeds nothing.
	again := p.mustUpload("guides/db.md", keyA, src)
	if again.Document.ID != d.ID || again.Document.Version != 2 {
		t.Fatalf("re-post gave document %+v, want same id, version 2", again.Document)
	}
	j2 := p.waitJob(again.Job.ID, keyA, 60*time.Second)
	if j2.Status != "succeeded" || j2.Result.ChunksEmbedded != 0 {
		t.Fatalf("unchanged re-post job = %+v", j2)
	}

	// An edit of one section re-embeds only that section's chunks.
	edited := bytes.Replace(src, []byte("alert on replication lag above thirty seconds"), []byte("alert on replication lag above ten seconds"), 1)
	ed := p.mustUpload("guides/db.md", keyA, edited)
	j3 := p.waitJob(ed.Job.ID, keyA, 60*time.Second)
	if j3.Status != "succeeded" || j3.Result.ChunksEmbedded == 0 || j3.Result.ChunksEmbedded >= j3.Result.ChunksTotal ||
		j3.Result.ChunksReused != j3.Result.ChunksTotal-j3.Result.ChunksEmbedded {
		t.Fatalf("edit job result = %+v", j3.Result)
	}
	if r := p.search(keyA, map[string]any{"query": "ten seconds", "mode": "keyword"}); len(r.Results) == 0 {
		t.Errorf("edited text not searchable")
	}
	assertNoDuplicateChunks(t, s.DBURL)

	// Delete: gone from search at once.
	if code, body := p.do(http.MethodDelete, "/v1/documents/"+d.ID, keyA, nil); code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", code, body)
	}
	if r := p.search(keyA, map[string]any{"query": "데이터베이스 백업"}); len(r.Results) != 0 {
		t.Errorf("deleted document still in search: %+v", r.Results)
	}
	if code, _ := p.get("/v1/documents/"+d.ID, keyA); code != http.StatusNotFound {
		t.Errorf("deleted document GET = %d, want 404", code)
	}
}

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	p := s.start("all")
	acc := p.mustUpload("secret/plan.md", keyA, []byte("# Plan\n\nThe acquisition of Initech closes in March. 인수 계획은 비밀이다.\n"))
	p.waitJob(acc.Job.ID, keyA, 60*time.Second)

	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/v1/documents/" + acc.Document.ID},
		{http.MethodGet, "/v1/jobs/" + acc.Job.ID},
		{http.MethodDelete, "/v1/documents/" + acc.Document.ID},
		{http.MethodPost, "/v1/documents/" + acc.Document.ID + "/reindex"},
	} {
		code, body := p.do(c.method, c.path, keyB, nil)
		if code != http.StatusNotFound || strings.Contains(string(body), "Initech") {
			t.Errorf("tenant B %s %s = %d %s, want 404 without data", c.method, c.path, code, body)
		}
	}
	for _, mode := range []string{"hybrid", "vector", "keyword"} {
		if r := p.search(keyB, map[string]any{"query": "Initech acquisition 인수 계획", "mode": mode}); len(r.Results) != 0 {
			t.Errorf("tenant B %s search sees tenant A: %+v", mode, r.Results)
		}
		r := p.search(keyB, map[string]any{"query": "Initech", "mode": mode, "filter": map[string]any{"document_ids": []string{acc.Document.ID}}})
		if len(r.Results) != 0 {
			t.Errorf("tenant B filtered by A's id sees data")
		}
	}
	code, body := p.get("/v1/documents", keyB)
	if code != http.StatusOK || strings.Contains(string(body), acc.Document.ID) {
		t.Errorf("tenant B list = %d %s", code, body)
	}
	if d := p.doc(acc.Document.ID, keyA); d.Status != "ready" {
		t.Errorf("tenant A's document after B's attempts: %+v", d)
	}
	for _, key := range []string{"", "wrong-key-0123456789abcdef"} {
		if code, _ := p.get("/v1/documents", key); code != http.StatusUnauthorized {
			t.Errorf("key %q: %d, want 401", key, code)
		}
	}
}

func TestRedisDownStillAccepts(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	p := s.start("all", "PROTOSTAR_DISPATCH_INTERVAL=200ms")
	s.Redis.Kill()

	acc := p.mustUpload("notes/outage.md", keyA, []byte("# 장애 노트\n\nRedis가 내려가도 문서는 접수된다.\n"))
	code, body := p.get("/v1/jobs/"+acc.Job.ID, keyA)
	j := decode[jobJSON](t, body)
	if code != http.StatusOK || j.Status != "queued" {
		t.Fatalf("job during outage: %d %+v", code, j)
	}
	time.Sleep(1500 * time.Millisecond)
	_, body = p.get("/v1/jobs/"+acc.Job.ID, keyA)
	if j = decode[jobJSON](t, body); !strings.Contains(j.Error, "waiting for the queue") {
		t.Errorf("a job waiting for the queue should say so, got %+v", j)
	}

	s.Redis.Restart(t)
	if j := p.waitJob(acc.Job.ID, keyA, 60*time.Second); j.Status != "succeeded" {
		t.Fatalf("job after redis returned: %+v", j)
	}
	if d := p.doc(acc.Document.ID, keyA); d.Status != "ready" || d.ChunkCount == 0 {
		t.Fatalf("document after redis returned: %+v", d)
	}
}

func TestBadInputFailsClearly(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	p := s.start("all")
	tests := []struct {
		name, key string
		content   []byte
		wantErr   string
	}{
		{"binary", "bad/binary.md", []byte("PK\x03\x04\x00\x00binary\xff\xfe"), "not UTF-8"},
		{"latin1", "bad/latin1.md", []byte("# caf\xe9\n\nna\xefve text\n"), "not UTF-8"},
	}
	for _, tt := range tests {
		acc := p.mustUpload(tt.key, keyA, tt.content)
		j := p.waitJob(acc.Job.ID, keyA, 60*time.Second)
		if j.Status != "failed" || j.Attempts != 1 || !strings.Contains(j.Error, tt.wantErr) {
			t.Errorf("%s: job = %+v, want failed after 1 attempt with %q", tt.name, j, tt.wantErr)
		}
		if d := p.doc(acc.Document.ID, keyA); d.Status != "failed" || d.Error == "" {
			t.Errorf("%s: document = %+v", tt.name, d)
		}
	}

	empty := p.mustUpload("ok/empty.md", keyA, nil)
	if j := p.waitJob(empty.Job.ID, keyA, 60*time.Second); j.Status != "succeeded" || j.Result.ChunksTotal != 0 {
		t.Errorf("empty document job = %+v", j)
	}
	if d := p.doc(empty.Document.ID, keyA); d.Status != "ready" || d.ChunkCount != 0 {
		t.Errorf("empty document = %+v", d)
	}

	code, body := p.do(http.MethodPost, "/v1/documents", keyA, map[string]any{"key": "missing/nowhere.md"})
	if code != http.StatusAccepted {
		t.Fatalf("post missing key: %d %s", code, body)
	}
	missing := decode[accepted](t, body)
	if j := p.waitJob(missing.Job.ID, keyA, 60*time.Second); j.Status != "failed" || j.Attempts != 1 || !strings.Contains(j.Error, "not found") {
		t.Errorf("missing object job = %+v", j)
	}

	for _, c := range []struct {
		body any
		want int
	}{
		{map[string]any{"key": "../etc/passwd"}, 400},
		{map[string]any{"key": "/abs/path.md"}, 400},
		{map[string]any{"key": "a/../../b.md"}, 400},
		{map[string]any{"key": ""}, 400},
		{map[string]any{"key": 42}, 400},
		{map[string]any{"key": "ok.md", "surprise": true}, 400},
	} {
		if code, body := p.do(http.MethodPost, "/v1/documents", keyA, c.body); code != c.want || !json.Valid(body) {
			t.Errorf("POST %v = %d %s, want %d problem", c.body, code, body, c.want)
		}
	}
	if code, _ := p.raw(http.MethodPost, "/v1/documents", keyA, "application/json", strings.NewReader("{not json")); code != 400 {
		t.Errorf("bad JSON = %d, want 400", code)
	}
}

// assertNoDuplicateChunks checks that every document's active version has
// exactly chunk_count rows with distinct ordinals.
func assertNoDuplicateChunks(t *testing.T, dbURL string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var bad int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM documents d WHERE d.deleted_at IS NULL AND d.indexed_version > 0 AND
		(SELECT count(*) FROM chunks c WHERE c.document_id = d.id AND c.version = d.indexed_version) <> d.chunk_count
		OR EXISTS (SELECT 1 FROM chunks c WHERE c.document_id = d.id GROUP BY c.version, c.ordinal HAVING count(*) > 1)`).Scan(&bad)
	if err != nil {
		t.Fatal(err)
	}
	if bad != 0 {
		t.Fatalf("%d documents have duplicated or missing chunks", bad)
	}
}
