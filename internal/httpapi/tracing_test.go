package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/exaring/otelpgx"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/protostar/protostar/internal/postgres"
	"github.com/protostar/protostar/internal/telemetry"
	"github.com/protostar/protostar/internal/testenv"
)

// TestTracing: a request's server span continues the caller's trace, named
// after its route; Postgres spans are its children and record no query
// parameters; a 404 is not a server error, a 503 is; every answer and
// problem carries the request id; the job row keeps the trace.
func TestTracing(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	db := testenv.NewDB(t, 4, postgres.WithTracer(otelpgx.NewTracer(otelpgx.WithTracerProvider(tp))))
	deps := fakeDeps(&calls{})
	deps.Store = db
	deps.Tracing = &telemetry.Telemetry{Provider: tp, Propagator: telemetry.Propagator()}
	h := New(slog.New(slog.DiscardHandler), deps, testConfig())

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	const marker = "secret-tenant-data-7f3a.md"
	req := httptest.NewRequest(http.MethodPost, "/v1/documents", strings.NewReader(`{"key":"`+marker+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testKey)
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	req.Header.Set(RequestIDHeader, "nest-req-42")
	w := serve(t, h, req)
	if w.Code != http.StatusAccepted || w.Header().Get(RequestIDHeader) != "nest-req-42" {
		t.Fatalf("create: %d %s (request id %q)", w.Code, w.Body, w.Header().Get(RequestIDHeader))
	}
	var server sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.SpanKind().String() == "server" {
			server = s
		}
	}
	if server == nil || server.Name() != "POST /v1/documents" || server.SpanContext().TraceID().String() != traceID {
		t.Fatalf("server span %v, want POST /v1/documents in trace %s", server, traceID)
	}
	parent := map[string]string{}
	for _, s := range rec.Ended() {
		parent[s.SpanContext().SpanID().String()] = s.Parent().SpanID().String()
		for _, kv := range s.Attributes() {
			if strings.Contains(kv.Value.Emit(), marker) || strings.Contains(string(kv.Key), "args") {
				t.Errorf("span %q records a query parameter: %s=%s", s.Name(), kv.Key, kv.Value.Emit())
			}
		}
	}
	under := func(id string) bool {
		for ; id != ""; id = parent[id] {
			if id == server.SpanContext().SpanID().String() {
				return true
			}
		}
		return false
	}
	queries := 0
	for _, s := range rec.Ended() {
		// (Spans of other traces are the set-up's migrations.)
		if s.InstrumentationScope().Name == "github.com/exaring/otelpgx" && s.SpanContext().TraceID().String() == traceID {
			queries++
			if !under(s.Parent().SpanID().String()) {
				t.Errorf("postgres span %q is not under the request's span", s.Name())
			}
		}
	}
	if queries == 0 {
		t.Fatal("no postgres spans")
	}
	docs, _, err := db.Jobs(context.Background(), "acme", "", 10, "")
	if err != nil || len(docs) != 1 || !strings.Contains(docs[0].TraceParent, traceID) {
		t.Fatalf("job %+v %v, want its traceparent in trace %s", docs, err, traceID)
	}

	status := func(path string) (int, codes.Code, string) {
		t.Helper()
		n := len(rec.Ended())
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", "Bearer "+testKey)
		w := serve(t, h, req)
		for _, s := range rec.Ended()[n:] {
			if s.SpanKind().String() == "server" {
				return w.Code, s.Status().Code, w.Body.String()
			}
		}
		t.Fatalf("GET %s: no server span", path)
		return 0, 0, ""
	}
	code, st, body := status("/v1/documents/8d3f6c2e-3c55-4a4e-9a57-5b1f1f0b6d11")
	if code != http.StatusNotFound || st == codes.Error || !strings.Contains(body, `"instance":"urn:protostar:request:`) {
		t.Errorf("404: %d, span status %v, body %s; want no error status and the request id as instance", code, st, body)
	}
	db.Close()
	if code, st, _ := status("/v1/documents/8d3f6c2e-3c55-4a4e-9a57-5b1f1f0b6d11"); code < 500 || st != codes.Error {
		t.Errorf("with Postgres gone: %d, span status %v; want 5xx and an error status", code, st)
	}
}
