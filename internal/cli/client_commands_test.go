package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fakeKey = "fake-key-0123456789abcdef"

// fakeAPI serves mux behind bearer authentication, the way the API does.
func fakeAPI(t *testing.T, mux *http.ServeMux) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+fakeKey {
			writeTestProblem(w, http.StatusUnauthorized, "unknown API key")
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func writeTestProblem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"title":%q,"status":%d,"detail":%q}`, http.StatusText(status), status, detail)
}

func writeEvents(w http.ResponseWriter, events ...string) {
	w.Header().Set("Content-Type", "text/event-stream")
	for _, e := range events {
		fmt.Fprint(w, e)
		w.(http.Flusher).Flush()
	}
}

// runClient runs a client command against url and returns its exit code
// and output.
func runClient(t *testing.T, url string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	args = append(args, "--url", url, "--key", fakeKey)
	code = Run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestAskStreamsAnswerAndSources(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/answers", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Question string `json:"question"`
			TopK     int    `json:"top_k"`
			Stream   bool   `json:"stream"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		if !body.Stream {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"answer":"한 번에 [1].","citations":[{"chunk_id":1,"document_id":"d","key":"a.md","heading_path":[],"quote":"q"}],"cached":false}`)
			return
		}
		if body.Question != "백업은 언제 하나요?" || body.TopK != 3 {
			writeTestProblem(w, 400, fmt.Sprintf("unexpected request %+v", body))
			return
		}
		writeEvents(w,
			"event: delta\ndata: {\"text\":\"매일 새벽 3시에 백업한다 [2].\"}\n\n",
			"event: delta\ndata: {\"text\":\" WAL is archived continuously [1].\"}\n\n",
			"event: citation\ndata: {\"index\":2,\"chunk_id\":9,\"document_id\":\"d1\",\"key\":\"ops/pg.md\",\"heading_path\":[\"운영\",\"백업\"],\"quote\":\"매일 새벽 3시에\\n백업한다\"}\n\n",
			"event: citation\ndata: {\"index\":1,\"chunk_id\":4,\"document_id\":\"d2\",\"key\":\"ops/wal.md\",\"heading_path\":[\"WAL\"],\"quote\":\"WAL is archived\"}\n\n",
			"event: done\ndata: {\"cached\":false}\n\n")
	})
	url := fakeAPI(t, mux)

	code, out, errOut := runClient(t, url, "ask", "백업은", "언제", "하나요?", "--top-k", "3")
	want := "매일 새벽 3시에 백업한다 [2]. WAL is archived continuously [1].\n\nSources:\n" +
		"[2] ops/pg.md › 운영 › 백업 — \"매일 새벽 3시에 백업한다\"\n" +
		"[1] ops/wal.md › WAL — \"WAL is archived\"\n"
	if code != 0 || out != want {
		t.Errorf("ask = %d\n%s\nstderr %s\nwant 0 and\n%s", code, out, errOut, want)
	}

	code, out, _ = runClient(t, url, "ask", "q", "--json")
	var a struct {
		Answer    string `json:"answer"`
		Citations []any  `json:"citations"`
	}
	if err := json.Unmarshal([]byte(out), &a); code != 0 || err != nil || a.Answer != "한 번에 [1]." || len(a.Citations) != 1 {
		t.Errorf("ask --json = %d %q (%v)", code, out, err)
	}
}

func TestAskErrorEventFails(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/answers", func(w http.ResponseWriter, r *http.Request) {
		writeEvents(w, "event: delta\ndata: {\"text\":\"partial\"}\n\n", "event: error\ndata: {\"detail\":\"generator unavailable\"}\n\n")
	})
	code, out, errOut := runClient(t, fakeAPI(t, mux), "ask", "q")
	if code != 1 || out != "partial\n" || !strings.Contains(errOut, "generator unavailable") {
		t.Errorf("ask = %d, stdout %q, stderr %q; want 1, the partial answer and the detail", code, out, errOut)
	}
}

func TestSummarizeByKeyWaitsForJob(t *testing.T) {
	const id = "6aa98917-85b6-4eb7-8257-03de03e45293"
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/documents", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("key") != "ops/pg.md" {
			fmt.Fprint(w, `{"documents":[]}`)
			return
		}
		fmt.Fprintf(w, `{"documents":[{"id":%q,"key":"ops/pg.md","status":"ready"}]}`, id)
	})
	mux.HandleFunc("POST /v1/documents/"+id+"/summary", func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Length string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		if body.Length != "short" {
			writeTestProblem(w, 400, "want length short, got "+body.Length)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprint(w, `{"cached":false,"job":{"id":"j1","type":"summary","status":"queued"}}`)
	})
	mux.HandleFunc("GET /v1/jobs/j1/events", func(w http.ResponseWriter, r *http.Request) {
		writeEvents(w, "event: progress\ndata: {\"id\":\"j1\",\"status\":\"running\",\"progress\":{\"done\":1,\"total\":2}}\n\n",
			"event: done\ndata: {\"id\":\"j1\",\"status\":\"succeeded\",\"progress\":{\"done\":2,\"total\":2}}\n\n")
	})
	mux.HandleFunc("GET /v1/documents/"+id+"/summary", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"summary":"백업은 매일 한다.","cached":false,"document_id":%q,"version":2,"length":%q,"model":"extractive-v1","sections":2}`,
			id, r.URL.Query().Get("length"))
	})
	url := fakeAPI(t, mux)

	code, out, errOut := runClient(t, url, "summarize", "ops/pg.md", "--length", "short")
	if code != 0 || !strings.HasPrefix(out, "백업은 매일 한다.\n") || !strings.Contains(out, "short summary of ops/pg.md") {
		t.Errorf("summarize = %d\n%s\nstderr %s", code, out, errOut)
	}
	code, out, _ = runClient(t, url, "summarize", "--json", "--length", "short", id)
	var s struct {
		Summary    string `json:"summary"`
		DocumentID string `json:"document_id"`
	}
	if err := json.Unmarshal([]byte(out), &s); code != 0 || err != nil || s.Summary != "백업은 매일 한다." || s.DocumentID != id {
		t.Errorf("summarize --json = %d %q (%v)", code, out, err)
	}
	code, _, errOut = runClient(t, url, "summarize", "missing.md")
	if code != 1 || !strings.Contains(errOut, `no document with key "missing.md"`) {
		t.Errorf("unknown key = %d, stderr %q", code, errOut)
	}
}

func TestSearchOutput(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/search", func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		if body["mode"] != "keyword" || body["filter"].(map[string]any)["key_prefix"] != "ops/" {
			writeTestProblem(w, 400, fmt.Sprintf("unexpected body %v", body))
			return
		}
		text := "## 백업\n\n매일   새벽 3시에\n" + strings.Repeat("데이터베이스를 백업한다. ", 20)
		raw, _ := json.Marshal(text)
		fmt.Fprintf(w, `{"results":[{"chunk_id":1,"document_id":"d","key":"ops/pg.md","heading_path":["운영","백업"],"text":%s,"score":0.03252}]}`, raw)
	})
	code, out, errOut := runClient(t, fakeAPI(t, mux), "search", "백업", "--mode", "keyword", "--prefix", "ops/")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != 0 || len(lines) != 2 || lines[0] != " 1. 0.0325  ops/pg.md › 운영 › 백업" ||
		!strings.HasPrefix(lines[1], "    매일 새벽 3시에 데이터베이스를") || !strings.HasSuffix(lines[1], "…") {
		t.Errorf("search = %d\n%s\nstderr %s", code, out, errOut)
	}
}

func TestIngestReportsFailures(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/documents", func(w http.ResponseWriter, r *http.Request) {
		key := r.FormValue("key")
		if key == "big.md" {
			writeTestProblem(w, http.StatusRequestEntityTooLarge, "file is larger than the 10-byte limit")
			return
		}
		id := strings.ReplaceAll(key, "/", "_")
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"document":{"id":"doc-%s","key":%q,"status":"pending"},"job":{"id":"job-%s","status":"queued"}}`, id, key, id)
	})
	mux.HandleFunc("GET /v1/jobs/{id}/events", func(w http.ResponseWriter, r *http.Request) {
		job := `{"id":"x","status":"succeeded","result":{"chunks_total":4}}`
		if r.PathValue("id") == "job-sub_bad.md" {
			job = `{"id":"x","status":"failed","error":"document is empty"}`
		}
		writeEvents(w, "event: done\ndata: "+job+"\n\n")
	})
	url := fakeAPI(t, mux)
	dir := t.TempDir()
	for _, f := range []string{"ok.md", "sub/bad.md", "big.md"} {
		p := filepath.Join(dir, filepath.FromSlash(f))
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("# "+f), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	code, out, errOut := runClient(t, url, "ingest", dir)
	wantTable := "" +
		"KEY         STATUS  CHUNKS  ERROR\n" +
		"big.md      failed  0       upload: file is larger than the 10-byte limit (HTTP 413)\n" +
		"ok.md       ready   4       \n" +
		"sub/bad.md  failed  0       document is empty\n"
	if code != 1 || !strings.HasSuffix(out, wantTable) || !strings.Contains(errOut, "2 of 3 documents failed") {
		t.Errorf("ingest = %d\n%s\nstderr %s\nwant exit 1 and a table ending\n%s", code, out, errOut, wantTable)
	}
	for _, line := range []string{"ready   ok.md (4 chunks)\n", "failed  sub/bad.md: document is empty\n"} {
		if !strings.Contains(out, line) {
			t.Errorf("ingest output lacks the line %q:\n%s", line, out)
		}
	}

	code, out, _ = runClient(t, url, "ingest", "--json", filepath.Join(dir, "ok.md"))
	var res struct {
		Documents []ingested `json:"documents"`
	}
	if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil || len(res.Documents) != 1 ||
		res.Documents[0] != (ingested{Key: "ok.md", Path: filepath.Join(dir, "ok.md"), DocumentID: "doc-ok.md", JobID: "job-ok.md", Status: "ready", Chunks: 4}) {
		t.Errorf("ingest --json = %d %q (%v)", code, out, err)
	}
}

func TestClientUsageErrors(t *testing.T) {
	url := fakeAPI(t, http.NewServeMux())
	tests := [][]string{
		{"search"},
		{"search", "q", "--mode", "fuzzy"},
		{"search", "q", "--top-k", "-1"},
		{"ask"},
		{"summarize"},
		{"summarize", "a", "b"},
		{"summarize", "a", "--length", "huge"},
		{"docs", "extra"},
		{"docs", "--limit", "0"},
		{"docs", "--status", "done"},
		{"jobs", "--status", "done"},
		{"ingest"},
		{"ingest", "--bogus", "x"},
	}
	for _, args := range tests {
		if code, _, errOut := runClient(t, url, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2 (stderr %q)", args, code, errOut)
		}
	}
	if code, out, _ := runClient(t, url, "docs", "-h"); code != 0 || !strings.Contains(out, "usage: protostar docs") {
		t.Errorf("docs -h: exit %d, stdout %q", code, out)
	}
	var errb bytes.Buffer
	t.Setenv("PROTOSTAR_API_KEY", "")
	if code := Run(context.Background(), []string{"docs", "--url", url}, nil, io.Discard, &errb); code != 2 || !strings.Contains(errb.String(), "no API key") {
		t.Errorf("docs without a key: exit %d, stderr %q", code, errb.String())
	}
}
