package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/protostar/protostar"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testKey = "test-key-0123456789abcdef"

// setup serves mux and returns a client for it.
func setup(t *testing.T, mux *http.ServeMux) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testKey {
			problem(w, http.StatusUnauthorized, "unknown API key")
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL+"/", testKey, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func problem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"title":%q,"status":%d,"detail":%q}`, http.StatusText(status), status, detail)
}

func sse(w http.ResponseWriter, events ...string) {
	w.Header().Set("Content-Type", "text/event-stream")
	for _, e := range events {
		fmt.Fprint(w, e)
		w.(http.Flusher).Flush()
	}
}

func TestNew(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:8080", "https://api.example.com/protostar/"} {
		if _, err := New(u, testKey, nil); err != nil {
			t.Errorf("New(%q): %v", u, err)
		}
	}
	for _, u := range []string{"", "127.0.0.1:8080", "ftp://host", "http://", "http://h/?q=1", "://x"} {
		if _, err := New(u, testKey, nil); err == nil {
			t.Errorf("New(%q) accepted a bad URL", u)
		}
	}
}

func TestUploadFile(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/documents", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			problem(w, 400, err.Error())
			return
		}
		fh := r.MultipartForm.File["file"][0]
		f, _ := fh.Open()
		content, _ := io.ReadAll(f)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"document": map[string]any{"id": "d1", "key": r.FormValue("key"), "status": "pending",
				"metadata": map[string]string{"filename": fh.Filename, "type": fh.Header.Get("Content-Type"), "content": string(content)}},
			"job": map[string]any{"id": "j1", "type": "ingest", "status": "queued"},
		})
	})
	c := setup(t, mux)
	path := filepath.Join(t.TempDir(), "가이드.md")
	if err := os.WriteFile(path, []byte("# 백업\n\n매일 한다.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sub, err := c.UploadFile(context.Background(), "guides/가이드.md", path)
	if err != nil {
		t.Fatal(err)
	}
	var meta map[string]string
	_ = json.Unmarshal(sub.Document.Metadata, &meta)
	want := map[string]string{"filename": "가이드.md", "type": "text/markdown; charset=utf-8", "content": "# 백업\n\n매일 한다.\n"}
	if sub.Document.Key != "guides/가이드.md" || sub.Job.ID != "j1" || !cmp.Equal(meta, want) {
		t.Errorf("upload saw key %q, job %q, part %v; want key guides/가이드.md, job j1, part %v", sub.Document.Key, sub.Job.ID, meta, want)
	}

	if _, err := c.UploadFile(context.Background(), "x.md", filepath.Join(t.TempDir(), "missing.md")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v, want ErrNotExist", err)
	}
}

func TestRetriesTooManyRequests(t *testing.T) {
	var calls atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/search", func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		if calls.Add(1) < 3 {
			w.Header().Set("Retry-After", "0")
			problem(w, http.StatusTooManyRequests, "rate limit exceeded for this API key")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"results":[{"chunk_id":1,"key":%q,"heading_path":["h"],"text":"t","score":0.5}]}`, body["query"])
	})
	c := setup(t, mux)
	hits, err := c.Search(context.Background(), SearchRequest{Query: "백업"})
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 || len(hits) != 1 || hits[0].Key != "백업" {
		t.Errorf("after %d calls got %+v; want 3 calls and the query echoed back", calls.Load(), hits)
	}
}

func TestSearchRequestBody(t *testing.T) {
	var got map[string]any
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/search", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewDecoder(r.Body).Decode(&got)
		fmt.Fprint(w, `{"results":[]}`)
	})
	c := setup(t, mux)
	ctx := context.Background()
	if _, err := c.Search(ctx, SearchRequest{Query: "q"}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]any{"query": "q"}, got); diff != "" {
		t.Errorf("defaults are sent (-want +got):\n%s", diff)
	}
	if _, err := c.Search(ctx, SearchRequest{Query: "q", TopK: 3, Mode: "keyword", Filter: protostar.SearchFilter{KeyPrefix: "ops/"}}); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"query": "q", "top_k": 3.0, "mode": "keyword", "filter": map[string]any{"key_prefix": "ops/"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("request body (-want +got):\n%s", diff)
	}
}

func TestUnauthorized(t *testing.T) {
	c := setup(t, http.NewServeMux())
	c.key = "wrong"
	_, err := c.Jobs(context.Background(), JobFilter{})
	var e *Error
	if !errors.As(err, &e) || e.Status != 401 || e.Detail != "unknown API key" {
		t.Errorf("err = %#v, want a 401 *Error with the detail", err)
	}
}

func TestAnswerStream(t *testing.T) {
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantDeltas []string
		want       Answer
		wantErr    func(error) bool
	}{
		{
			name: "answer with citations",
			handler: func(w http.ResponseWriter, r *http.Request) {
				sse(w, "event: delta\ndata: {\"text\":\"백업은 매일 한다 [2]. \"}\n\n",
					"event: delta\ndata: {\"text\":\"WAL is archived [1].\"}\n\n",
					"event: citation\ndata: {\"chunk_id\":7,\"document_id\":\"d\",\"key\":\"ops/pg.md\",\"heading_path\":[\"백업\"],\"quote\":\"매일 한다\"}\n\n",
					"event: done\ndata: {\"cached\":true}\n\n")
			},
			wantDeltas: []string{"백업은 매일 한다 [2]. ", "WAL is archived [1]."},
			want: Answer{Answer: "백업은 매일 한다 [2]. WAL is archived [1].", Cached: true, Citations: []protostar.Citation{
				{ChunkID: 7, DocumentID: "d", Key: "ops/pg.md", HeadingPath: []string{"백업"}, Quote: "매일 한다"}}},
		},
		{
			name: "error event",
			handler: func(w http.ResponseWriter, r *http.Request) {
				sse(w, "event: delta\ndata: {\"text\":\"part\"}\n\n", "event: error\ndata: {\"detail\":\"generator unavailable\"}\n\n")
			},
			wantDeltas: []string{"part"},
			want:       Answer{Answer: "part", Citations: []protostar.Citation{}},
			wantErr: func(err error) bool {
				var se *StreamError
				return errors.As(err, &se) && se.Detail == "generator unavailable"
			},
		},
		{
			name: "stream cut before done",
			handler: func(w http.ResponseWriter, r *http.Request) {
				sse(w, "event: delta\ndata: {\"text\":\"part\"}\n\n")
			},
			wantDeltas: []string{"part"},
			want:       Answer{Answer: "part", Citations: []protostar.Citation{}},
			wantErr:    func(err error) bool { return errors.Is(err, errStreamEnded) },
		},
		{
			name:    "problem before the stream",
			handler: func(w http.ResponseWriter, r *http.Request) { problem(w, 400, "question must not be empty") },
			wantErr: func(err error) bool {
				return StatusOf(err) == 400 && strings.Contains(err.Error(), "question must not be empty")
			},
		},
		{
			name: "JSON answer instead of a stream",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, `{"answer":"whole","citations":[],"cached":false}`)
			},
			wantDeltas: []string{"whole"},
			want:       Answer{Answer: "whole", Citations: []protostar.Citation{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mux := http.NewServeMux()
			mux.HandleFunc("POST /v1/answers", func(w http.ResponseWriter, r *http.Request) {
				var body map[string]any
				_ = json.NewDecoder(r.Body).Decode(&body)
				if body["stream"] != true || body["question"] != "백업은?" || r.Header.Get("Accept") != "text/event-stream" {
					problem(w, 400, fmt.Sprintf("bad request: %v", body))
					return
				}
				tt.handler(w, r)
			})
			c := setup(t, mux)
			var deltas []string
			a, err := c.AnswerStream(context.Background(), AnswerRequest{Question: "백업은?"}, func(s string) { deltas = append(deltas, s) })
			if tt.wantErr != nil {
				if err == nil || !tt.wantErr(err) {
					t.Fatalf("err = %v, not the expected error", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantDeltas, deltas); diff != "" {
				t.Errorf("deltas (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, a); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
}

func jobJSON(status string, done, total int) string {
	return fmt.Sprintf(`{"id":"j1","type":"summary","status":%q,"progress":{"done":%d,"total":%d},"attempts":1,"max_attempts":5}`, status, done, total)
}

func TestWaitJobFollowsEvents(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/jobs/j1/events", func(w http.ResponseWriter, r *http.Request) {
		sse(w, "event: progress\ndata: "+jobJSON("running", 1, 3)+"\n\n",
			"event: progress\ndata: "+jobJSON("running", 2, 3)+"\n\n",
			"event: done\ndata: "+jobJSON("succeeded", 3, 3)+"\n\n")
	})
	c := setup(t, mux)
	var seen []int
	j, err := c.WaitJob(context.Background(), "j1", func(j protostar.Job) { seen = append(seen, j.Progress.Done) })
	if err != nil {
		t.Fatal(err)
	}
	if j.Status != protostar.JobSucceeded || !cmp.Equal(seen, []int{1, 2, 3}) {
		t.Errorf("job %s, progress seen %v; want succeeded after 1, 2, 3", j.Status, seen)
	}
}

func TestWaitJobReconnects(t *testing.T) {
	var streams atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/jobs/j1/events", func(w http.ResponseWriter, r *http.Request) {
		if streams.Add(1) == 1 {
			sse(w, "event: progress\ndata: "+jobJSON("running", 1, 2)+"\n\n",
				"event: error\ndata: {\"detail\":\"job status unavailable; reconnect to resume\"}\n\n")
			return
		}
		sse(w, "event: done\ndata: "+jobJSON("failed", 1, 2)+"\n\n")
	})
	mux.HandleFunc("GET /v1/jobs/j1", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, jobJSON("running", 1, 2))
	})
	c := setup(t, mux)
	j, err := c.WaitJob(context.Background(), "j1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if j.Status != protostar.JobFailed || streams.Load() != 2 {
		t.Errorf("job %s after %d streams, want failed after 2", j.Status, streams.Load())
	}
}

func TestWaitJobPollsWithoutEventStream(t *testing.T) {
	var polls atomic.Int32
	mux := http.NewServeMux() // no events route: 404 page not found
	mux.HandleFunc("GET /v1/jobs/j1", func(w http.ResponseWriter, r *http.Request) {
		if polls.Add(1) < 3 {
			fmt.Fprint(w, jobJSON("running", 0, 0))
			return
		}
		fmt.Fprint(w, jobJSON("succeeded", 2, 2))
	})
	c := setup(t, mux)
	start := time.Now()
	j, err := c.WaitJob(context.Background(), "j1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if j.Status != protostar.JobSucceeded || polls.Load() != 3 {
		t.Errorf("job %s after %d polls, want succeeded after 3", j.Status, polls.Load())
	}
	if elapsed := time.Since(start); elapsed < 2*PollInterval {
		t.Errorf("3 polls took %v, want at least 2 poll intervals", elapsed)
	}

	_, err = c.WaitJob(context.Background(), "unknown", nil)
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown job: err = %v, want a 404", err)
	}
}

func TestWaitJobCanceled(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/jobs/j1/events", func(w http.ResponseWriter, r *http.Request) {
		sse(w, "event: progress\ndata: "+jobJSON("running", 0, 1)+"\n\n")
		<-r.Context().Done()
	})
	c := setup(t, mux)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.WaitJob(ctx, "j1", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the context's error", err)
	}
}

func TestSummarize(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/documents/d1/summary", func(w http.ResponseWriter, r *http.Request) {
		var body map[string]string
		_ = json.NewDecoder(r.Body).Decode(&body)
		if body["length"] == "long" {
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprint(w, `{"cached":false,"job":`+jobJSON("queued", 0, 0)+`}`)
			return
		}
		fmt.Fprint(w, `{"summary":"요약","cached":true,"document_id":"d1","length":"short","model":"m","content_hash":"h","sections":2,"created_at":"2025-01-02T03:04:05Z"}`)
	})
	mux.HandleFunc("GET /v1/documents/d1/summary", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"summary":"long one","cached":false,"document_id":"d1","length":%q,"sections":4}`, r.URL.Query().Get("length"))
	})
	c := setup(t, mux)
	ctx := context.Background()

	s, err := c.Summarize(ctx, "d1", "short")
	if err != nil {
		t.Fatal(err)
	}
	if s.Job != nil || !s.Cached || s.Text != "요약" || s.Sections != 2 || s.CreatedAt.Year() != 2025 {
		t.Errorf("200 answer decoded as %+v", s)
	}
	s, err = c.Summarize(ctx, "d1", "long")
	if err != nil {
		t.Fatal(err)
	}
	if s.Job == nil || s.Job.ID != "j1" || s.Text != "" {
		t.Errorf("202 answer decoded as %+v", s)
	}
	s, err = c.Summary(ctx, "d1", "long")
	if err != nil {
		t.Fatal(err)
	}
	if s.Text != "long one" || s.Length != "long" {
		t.Errorf("GET summary decoded as %+v", s)
	}
}

func TestPathsAreEscapedOnce(t *testing.T) {
	var got string
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.RequestURI()
		fmt.Fprint(w, `{"documents":[]}`)
	})
	c := setup(t, mux)
	_, _ = c.Job(context.Background(), "a/b c")
	if got != "/v1/jobs/a%2Fb%20c" {
		t.Errorf("request URI = %q, want the id escaped once", got)
	}
	_, _ = c.Documents(context.Background(), protostar.DocumentFilter{Key: "가이드/a b.md", Limit: 5})
	if got != "/v1/documents?key=%EA%B0%80%EC%9D%B4%EB%93%9C%2Fa+b.md&limit=5" {
		t.Errorf("request URI = %q", got)
	}
}
