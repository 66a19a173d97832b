package e2e

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/protostar/protostar/internal/testenv"
)

// otlpReceiver is an OTLP/HTTP trace receiver: it decodes the protobuf
// export requests protostar's processes send and keeps their spans.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []receivedSpan
}

type receivedSpan struct {
	service, name, traceID string
	attrs                  map[string]string
}

func newOTLPReceiver(t *testing.T) (*otlpReceiver, string) {
	t.Helper()
	r := &otlpReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		raw, _ := io.ReadAll(req.Body)
		var ex coltrace.ExportTraceServiceRequest
		if req.URL.Path != "/v1/traces" || proto.Unmarshal(raw, &ex) != nil {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, rs := range ex.ResourceSpans {
			service := ""
			for _, kv := range rs.Resource.GetAttributes() {
				if kv.Key == "protostar.role" {
					service = kv.Value.GetStringValue()
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					attrs := map[string]string{}
					for _, kv := range sp.Attributes {
						attrs[kv.Key] = kv.Value.GetStringValue()
						if attrs[kv.Key] == "" {
							attrs[kv.Key] = strconv.FormatInt(kv.Value.GetIntValue(), 10)
						}
					}
					r.spans = append(r.spans, receivedSpan{service: service, name: sp.Name,
						traceID: hex.EncodeToString(sp.TraceId), attrs: attrs})
				}
			}
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write([]byte{})
	}))
	t.Cleanup(srv.Close)
	return r, srv.URL
}

// names returns "role/span name" of the spans of a trace.
func (r *otlpReceiver) names(traceID string) map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for _, s := range r.spans {
		if s.traceID == traceID {
			out[s.service+"/"+s.name]++
		}
	}
	return out
}

// queries counts the trace's spans of role that are database queries.
func (r *otlpReceiver) queries(traceID, role string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, s := range r.spans {
		if s.traceID == traceID && s.service == role && (s.attrs["db.system"] == "postgresql" || s.attrs["db.system.name"] == "postgresql") {
			n++
		}
	}
	return n
}

// attempts returns the attempt numbers of the trace's job spans.
func (r *otlpReceiver) attempts(traceID string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, s := range r.spans {
		if s.traceID == traceID && s.name == "job ingest" {
			out = append(out, s.attrs["protostar.job.attempt"])
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
	rec, endpoint := newOTLPReceiver(t)
	s := newStack(t, "OTEL_TRACES_EXPORTER=otlp", "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
		"OTEL_EXPORTER_OTLP_ENDPOINT="+endpoint, "OTEL_BSP_SCHEDULE_DELAY=100", "PROTOSTAR_EMBED_BATCH_SIZE=8")
	api := s.start("serve")
	w1 := s.start("worker")
	objects := s.objects()
	ctx := context.Background()
	testenv.WaitFor(t, 20*time.Second, "the bucket", func() bool { return objects.Ping(ctx) == nil })

	post := func(key, traceID string, body []byte) accepted {
		t.Helper()
		if _, err := objects.Put(ctx, "acme/"+key, bytes.NewReader(body), int64(len(body)), "text/markdown"); err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, api.URL+"/v1/documents", strings.NewReader(`{"key":"`+key+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+keyA)
		req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusAccepted || resp.Header.Get("X-Request-Id") == "" {
			t.Fatalf("post: %d %s (request id %q)", resp.StatusCode, short(raw), resp.Header.Get("X-Request-Id"))
		}
		return decode[accepted](t, raw)
	}

	const trace1 = "4bf92f3577b34da6a3ce929d0e0e4736"
	acc := post("traced.md", trace1, []byte("# 추적\n\nOne trace from the request to the last chunk. 요청부터 마지막 청크까지.\n"))
	if j := api.waitJob(acc.Job.ID, keyA, 30*time.Second); j.Status != "succeeded" {
		t.Fatalf("job %+v", j)
	}
	want := []string{"serve/POST /v1/documents", "worker/job ingest", "worker/s3 open", "worker/embed batch",
		"worker/copy chunks", "worker/ingest activate version"}
	testenv.WaitFor(t, 15*time.Second, "the spans of one trace from both processes", func() bool {
		got := rec.names(trace1)
		for _, n := range want {
			if got[n] == 0 {
				return false
			}
		}
		return true
	})
	if rec.queries(trace1, "serve") == 0 || rec.queries(trace1, "worker") == 0 {
		t.Errorf("no Postgres spans of both processes in the trace: %v", rec.names(trace1))
	}

	// A job re-sent after its worker died keeps the trace.
	const trace2 = "0af7651916cd43dd8448eb211c80319c"
	acc = post("killed.md", trace2, bigMarkdown(8<<20))
	conn, err := pgx.Connect(ctx, s.DBURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	testenv.WaitFor(t, 60*time.Second, "the worker to write chunks", func() bool {
		var n int
		err := conn.QueryRow(ctx, `SELECT count(*) FROM chunks WHERE document_id = $1`, acc.Document.ID).Scan(&n)
		return err == nil && n > 0
	})
	w1.Kill()
	s.start("worker")
	if j := api.waitJob(acc.Job.ID, keyA, 3*time.Minute); j.Status != "succeeded" || j.Attempts < 2 {
		t.Fatalf("job after the kill: %+v", j)
	}
	testenv.WaitFor(t, 15*time.Second, "the replacing attempt's span in the request's trace", func() bool {
		return slices.Contains(rec.attempts(trace2), "2")
	})
}
