package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

type summaryJSON struct {
	Summary     string   `json:"summary"`
	Cached      bool     `json:"cached"`
	DocumentID  string   `json:"document_id"`
	ContentHash string   `json:"content_hash"`
	Sections    int      `json:"sections"`
	Job         *jobJSON `json:"job"`
}

type summaryJobResult struct {
	Result struct {
		SectionsTotal      int `json:"sections_total"`
		SectionsSummarized int `json:"sections_summarized"`
		SectionsReused     int `json:"sections_reused"`
		GeneratorCalls     int `json:"generator_calls"`
	} `json:"result"`
}

type answerJSON struct {
	Answer    string `json:"answer"`
	Citations []struct {
		ChunkID    int64  `json:"chunk_id"`
		DocumentID string `json:"document_id"`
		Key        string `json:"key"`
		Quote      string `json:"quote"`
	} `json:"citations"`
	Cached bool `json:"cached"`
}

// summarize requests a summary and, if a job computes it, waits for it
// and returns the job's result too.
func (p *proc) summarize(docID, length string) (summaryJSON, *summaryJobResult) {
	p.t.Helper()
	code, body := p.do(http.MethodPost, "/v1/documents/"+docID+"/summary", keyA, map[string]string{"length": length})
	switch code {
	case http.StatusOK:
		return decode[summaryJSON](p.t, body), nil
	case http.StatusAccepted:
	default:
		p.t.Fatalf("summarize: %d %s", code, body)
	}
	sj := decode[summaryJSON](p.t, body)
	j := p.waitJob(sj.Job.ID, keyA, 60*time.Second)
	if j.Status != "succeeded" {
		p.t.Fatalf("summary job = %+v", j)
	}
	_, raw := p.get("/v1/jobs/"+sj.Job.ID, keyA)
	res := decode[summaryJobResult](p.t, raw)
	code, body = p.get("/v1/documents/"+docID+"/summary?length="+length, keyA)
	if code != http.StatusOK {
		p.t.Fatalf("get summary: %d %s", code, body)
	}
	return decode[summaryJSON](p.t, body), &res
}

func TestSummaryCachedAndIncremental(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	p := s.start("all")
	src, _ := os.ReadFile("testdata/mixed.md")
	acc := p.mustUpload("guides/db.md", keyA, src)
	p.waitJob(acc.Job.ID, keyA, 60*time.Second)

	first, res := p.summarize(acc.Document.ID, "short")
	if res == nil || first.Summary == "" || res.Result.SectionsTotal < 3 || res.Result.SectionsSummarized != res.Result.SectionsTotal {
		t.Fatalf("first summary %+v, job result %+v", first, res)
	}
	again, res2 := p.summarize(acc.Document.ID, "short")
	if res2 != nil || !again.Cached || again.Summary != first.Summary {
		t.Fatalf("second request = %+v (job %v), want cached", again, res2)
	}

	// Redis down: the summary in Postgres is still served.
	s.Redis.Kill()
	down, _ := p.summarize(acc.Document.ID, "short")
	if !down.Cached || down.Summary != first.Summary {
		t.Errorf("summary with redis down = %+v", down)
	}
	s.Redis.Restart(t)

	edited := bytes.Replace(src, []byte("alert on replication lag above thirty seconds"), []byte("page the on-call engineer when replication lag exceeds ten seconds"), 1)
	ed := p.mustUpload("guides/db.md", keyA, edited)
	p.waitJob(ed.Job.ID, keyA, 60*time.Second)
	third, res3 := p.summarize(acc.Document.ID, "short")
	if res3 == nil || third.ContentHash == first.ContentHash {
		t.Fatalf("summary after edit = %+v (job %v), want a new job for the new content", third, res3)
	}
	if r := res3.Result; r.SectionsSummarized != 1 || r.SectionsReused != r.SectionsTotal-1 {
		t.Errorf("after editing one section: %+v, want exactly one section re-summarised", r)
	}
}

func TestAnswersCitedStreamedAndInvalidated(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	p := s.start("all")
	src, _ := os.ReadFile("testdata/mixed.md")
	acc := p.mustUpload("guides/db.md", keyA, src)
	p.waitJob(acc.Job.ID, keyA, 60*time.Second)
	other := p.mustUpload("b/secret.md", keyB, []byte("# 백업\n\n백업은 매일 새벽 3시에 실행된다. Tenant B keeps its backups on tape.\n"))
	p.waitJob(other.Job.ID, keyB, 60*time.Second)

	q := map[string]any{"question": "백업은 언제 실행되나요?", "top_k": 5}
	code, body := p.do(http.MethodPost, "/v1/answers", keyA, q)
	if code != http.StatusOK {
		t.Fatalf("answer: %d %s", code, body)
	}
	a := decode[answerJSON](t, body)
	if a.Cached || len(a.Citations) == 0 || !strings.Contains(a.Answer, "3시") {
		t.Fatalf("answer = %+v", a)
	}
	retrieved := map[int64]bool{}
	for _, r := range p.search(keyA, map[string]any{"query": q["question"], "top_k": 5}).Results {
		retrieved[r.ChunkID] = true
	}
	for _, c := range a.Citations {
		if c.DocumentID != acc.Document.ID || !retrieved[c.ChunkID] || c.Quote == "" {
			t.Errorf("citation %+v is not a retrieved chunk of tenant A", c)
		}
	}

	_, body = p.do(http.MethodPost, "/v1/answers", keyA, q)
	if cached := decode[answerJSON](t, body); !cached.Cached || cached.Answer != a.Answer {
		t.Errorf("second answer = %+v, want cached", cached)
	}

	events := p.streamAnswer(map[string]any{"question": "What does the backup job use?", "stream": true})
	if len(events) < 2 || events[0].name != "delta" || events[len(events)-1].name != "done" {
		t.Fatalf("stream events = %+v", events)
	}
	seenCitation := false
	for i, e := range events {
		switch e.name {
		case "delta":
			if seenCitation {
				t.Errorf("delta after citation at %d", i)
			}
		case "citation":
			seenCitation = true
		case "error":
			t.Errorf("error event: %s", e.data)
		}
	}
	if !seenCitation {
		t.Errorf("no citation event in %+v", events)
	}

	nothing := map[string]any{"question": "Who won the 1998 football world cup?"}
	_, body = p.do(http.MethodPost, "/v1/answers", keyA, nothing)
	if n := decode[answerJSON](t, body); len(n.Citations) != 0 || !strings.Contains(strings.ToLower(n.Answer), "not contain") {
		t.Errorf("irrelevant question answered %+v", n)
	}

	// A document change invalidates cached answers.
	ed := p.mustUpload("guides/db.md", keyA, bytes.Replace(src, []byte("새벽 3시"), []byte("새벽 4시"), 1))
	p.waitJob(ed.Job.ID, keyA, 60*time.Second)
	_, body = p.do(http.MethodPost, "/v1/answers", keyA, q)
	if fresh := decode[answerJSON](t, body); fresh.Cached || !strings.Contains(fresh.Answer, "4시") {
		t.Errorf("answer after edit = %+v, want a fresh answer about 4시", fresh)
	}
	if code, _ := p.do(http.MethodPost, "/v1/answers", keyA, map[string]any{"question": ""}); code/100 != 4 {
		t.Errorf("empty question = %d, want 4xx", code)
	}
}

type sseEvent struct{ name, data string }

func (p *proc) streamAnswer(req map[string]any) []sseEvent {
	p.t.Helper()
	raw, _ := json.Marshal(req)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.URL+"/v1/answers", bytes.NewReader(raw))
	r.Header.Set("Authorization", "Bearer "+keyA)
	r.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		p.t.Fatalf("stream content type %q, status %d", ct, resp.StatusCode)
	}
	var (
		events []sseEvent
		cur    sseEvent
	)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			cur.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.data = strings.TrimPrefix(line, "data: ")
		case line == "" && cur.name != "":
			events = append(events, cur)
			cur = sseEvent{}
		}
	}
	return events
}
