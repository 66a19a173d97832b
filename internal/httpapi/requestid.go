package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// RequestIDHeader names the request id every answer carries: the
// caller's, when it sends a usable one, or a new one. Problem bodies carry
// it as their instance (urn:protostar:request:<id>), and the request's
// span as an attribute, so a bug report leads to the trace and the logs.
const RequestIDHeader = "X-Request-Id"

const requestURN = "urn:protostar:request:"

// withRequestID sets the answer's request id before anything is written.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID(id) {
			var b [16]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set(RequestIDHeader, id)
		trace.SpanFromContext(r.Context()).SetAttributes(attribute.String("http.request.id", id))
		next.ServeHTTP(w, r)
	})
}

// validRequestID accepts 1 to 128 characters of [A-Za-z0-9._:-], so a
// caller's id can be echoed in headers and logs as it is.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range []byte(id) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// problemInstance returns the instance of a problem answer written on w.
func problemInstance(w http.ResponseWriter) string {
	if id := w.Header().Get(RequestIDHeader); id != "" {
		return requestURN + id
	}
	return ""
}

// requestIDInProblems is a huma transformer that sets the instance of
// every problem body.
func requestIDInProblems(ctx huma.Context, _ string, v any) (any, error) {
	em, ok := v.(*huma.ErrorModel)
	if !ok || em.Instance != "" {
		return v, nil
	}
	if _, w := humago.Unwrap(ctx); w != nil {
		em.Instance = problemInstance(w)
	}
	return v, nil
}

// traced wraps the API in server spans named "METHOD /route/{pattern}",
// continuing the caller's W3C traceparent. Health, readiness and metrics
// requests are not traced: probes would flood the traces.
func (s *Server) traced(next http.Handler) http.Handler {
	t := s.deps.Tracing
	if t == nil || !t.Enabled() {
		return next
	}
	return otelhttp.NewHandler(next, "http",
		otelhttp.WithTracerProvider(t.Provider), otelhttp.WithPropagators(t.Propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return s.routeOf(r) }), // "POST /v1/documents"
		otelhttp.WithFilter(func(r *http.Request) bool {
			switch r.URL.Path {
			case "/healthz", "/readyz", "/metrics":
				return false
			}
			return true
		}))
}
