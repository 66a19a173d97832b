package testenv

import (
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// Span is one span an OTLPReceiver received: the protostar.role of its
// process's resource, its name, trace id and attributes (ints as decimal
// strings).
type Span struct {
	Role, Name, TraceID string
	Attrs               map[string]string
}

// OTLPReceiver is an OTLP/HTTP trace receiver on loopback, what a
// collector is to protostar's processes (OTEL_EXPORTER_OTLP_ENDPOINT=URL).
// It decodes and keeps the spans it is sent, or, for the benchmark,
// only counts the requests.
type OTLPReceiver struct {
	URL string

	srv      *httptest.Server
	keep     bool
	mu       sync.Mutex
	spans    []Span
	requests int
}

// StartOTLPReceiver starts a receiver; keep decides whether it decodes and
// keeps spans. Close stops it.
func StartOTLPReceiver(keep bool) *OTLPReceiver {
	r := &OTLPReceiver{keep: keep}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.URL = r.srv.URL
	return r
}

// NewOTLPReceiver starts a receiver that keeps spans, closed when t ends.
func NewOTLPReceiver(t testing.TB) *OTLPReceiver {
	r := StartOTLPReceiver(true)
	t.Cleanup(r.Close)
	return r
}

// Close stops the receiver.
func (r *OTLPReceiver) Close() { r.srv.Close() }

func (r *OTLPReceiver) serve(w http.ResponseWriter, req *http.Request) {
	raw, err := io.ReadAll(req.Body)
	var ex coltrace.ExportTraceServiceRequest
	if err != nil || req.URL.Path != "/v1/traces" || (r.keep && proto.Unmarshal(raw, &ex) != nil) {
		http.Error(w, "bad export", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.requests++
	r.spans = append(r.spans, spansOf(&ex)...)
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
}

func spansOf(ex *coltrace.ExportTraceServiceRequest) []Span {
	var out []Span
	for _, rs := range ex.ResourceSpans {
		role := ""
		for _, kv := range rs.Resource.GetAttributes() {
			if kv.Key == "protostar.role" {
				role = kv.Value.GetStringValue()
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
				out = append(out, Span{Role: role, Name: sp.Name, TraceID: hex.EncodeToString(sp.TraceId), Attrs: attrs})
			}
		}
	}
	return out
}

// Spans returns the spans of trace traceID received so far.
func (r *OTLPReceiver) Spans(traceID string) []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Span
	for _, s := range r.spans {
		if s.TraceID == traceID {
			out = append(out, s)
		}
	}
	return out
}

// Requests counts the export requests received.
func (r *OTLPReceiver) Requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests
}
