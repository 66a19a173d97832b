package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/protostar/protostar/internal/testenv"
)

// traceSpans reads spans of one trace from a receiver.
type traceSpans struct{ *testenv.OTLPReceiver }

// names returns "role/span name" of the spans of a trace.
func (r traceSpans) names(traceID string) map[string]int {
	out := map[string]int{}
	for _, s := range r.Spans(traceID) {
		out[s.Role+"/"+s.Name]++
	}
	return out
}

// wait waits until the trace has spans of every "role/name" in want.
func (r traceSpans) wait(t *testing.T, traceID string, want ...string) {
	t.Helper()
	testenv.WaitFor(t, 15*time.Second, "the spans "+strings.Join(want, ", ")+" in trace "+traceID, func() bool {
		got := r.names(traceID)
		for _, n := range want {
			if got[n] == 0 {
				return false
			}
		}
		return true
	})
}

// queries counts the trace's spans of role that are calls to the database
// system db (postgresql, redis).
func (r traceSpans) queries(traceID, role, db string) int {
	n := 0
	for _, s := range r.Spans(traceID) {
		if s.Role == role && (s.Attrs["db.system"] == db || s.Attrs["db.system.name"] == db) {
			n++
		}
	}
	return n
}

// attempts returns the attempt numbers of the trace's job spans.
func (r traceSpans) attempts(traceID string) []string {
	var out []string
	for _, s := range r.Spans(traceID) {
		if s.Name == "job ingest" {
			out = append(out, s.Attrs["protostar.job.attempt"])
		}
	}
	return out
}

// TestOneTraceFromRequestToChunks: a document posted with a W3C
// traceparent (as NestJS sends it) is one trace from the API's server span
// through the worker's job, embedding and COPY spans, across two processes
// and the queue; after the worker is SIGKILLed mid-job, the attempt that
// replaces it is in the same trace.
func TestOneTraceFromRequestToChunks(t *testing.T) {
	t.Parallel()
	rec := traceSpans{testenv.NewOTLPReceiver(t)}
	s := newStack(t, "OTEL_TRACES_EXPORTER=otlp", "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
		"OTEL_EXPORTER_OTLP_ENDPOINT="+rec.URL, "OTEL_BSP_SCHEDULE_DELAY=100", "PROTOSTAR_EMBED_BATCH_SIZE=8")
	api := s.start("serve")
	w1 := s.start("worker")
	objects := s.objects()
	ctx := context.Background()
	testenv.WaitFor(t, 20*time.Second, "the bucket", func() bool { return objects.Ping(ctx) == nil })

	// send makes a request in the trace traceID, as NestJS would.
	send := func(method, path, traceID, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, api.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+keyA)
		req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.Header.Get("X-Request-Id") == "" {
			t.Fatalf("%s %s: no request id", method, path)
		}
		return resp.StatusCode, raw
	}
	post := func(key, traceID string, body []byte) accepted {
		t.Helper()
		if _, err := objects.Put(ctx, "acme/"+key, bytes.NewReader(body), int64(len(body)), "text/markdown"); err != nil {
			t.Fatal(err)
		}
		code, raw := send(http.MethodPost, "/v1/documents", traceID, `{"key":"`+key+`"}`)
		if code != http.StatusAccepted {
			t.Fatalf("post: %d %s", code, short(raw))
		}
		return decode[accepted](t, raw)
	}

	const trace1 = "4bf92f3577b34da6a3ce929d0e0e4736"
	acc := post("traced.md", trace1, []byte("# 추적\n\nOne trace from the request to the last chunk. 요청부터 마지막 청크까지.\n"))
	if j := api.waitJob(acc.Job.ID, keyA, 30*time.Second); j.Status != "succeeded" {
		t.Fatalf("job %+v", j)
	}
	rec.wait(t, trace1, "serve/POST /v1/documents", "serve/dispatch ingest", "worker/job ingest", "worker/s3 open",
		"worker/embed batch", "worker/copy chunks", "worker/ingest activate version")
	if rec.queries(trace1, "serve", "postgresql") == 0 || rec.queries(trace1, "worker", "postgresql") == 0 {
		t.Errorf("no Postgres spans of both processes in the trace: %v", rec.names(trace1))
	}
	if rec.queries(trace1, "serve", "redis") == 0 {
		t.Errorf("no Redis spans (rate limits) of the API in the trace: %v", rec.names(trace1))
	}

	// A summary's map and reduce calls are in the trace of its request.
	const trace3 = "5b8aa5a2d2c872e8321cf37308d69df2"
	if code, raw := send(http.MethodPost, "/v1/documents/"+acc.Document.ID+"/summary", trace3, `{"length":"short"}`); code != http.StatusAccepted {
		t.Fatalf("summary: %d %s", code, short(raw))
	}
	rec.wait(t, trace3, "serve/POST /v1/documents/{id}/summary", "serve/dispatch summary", "worker/job summary", "worker/summary map")

	// A job re-sent after its worker died keeps the trace.
	const trace2 = "0af7651916cd43dd8448eb211c80319c"
	acc = post("killed.md", trace2, bigMarkdown(8<<20))
	s.waitChunks(acc.Document.ID)
	w1.Kill()
	s.start("worker")
	if j := api.waitJob(acc.Job.ID, keyA, 3*time.Minute); j.Status != "succeeded" || j.Attempts < 2 {
		t.Fatalf("job after the kill: %+v", j)
	}
	testenv.WaitFor(t, 15*time.Second, "the replacing attempt's span in the request's trace", func() bool {
		return slices.Contains(rec.attempts(trace2), "2")
	})
}
