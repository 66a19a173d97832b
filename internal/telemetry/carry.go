package telemetry

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/protostar/protostar"
)

// TraceParent returns the W3C traceparent of ctx's span ("" when none), to
// store with work that continues elsewhere (a job's row, a queue task).
func TraceParent(ctx context.Context) string {
	c := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, c)
	return c["traceparent"]
}

// WithTraceParent returns ctx with the remote span context traceparent
// names as its parent, or ctx when it names none or ctx already has a span.
func WithTraceParent(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" || trace.SpanContextFromContext(ctx).IsValid() {
		return ctx
	}
	return propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
}

// LinkTo returns a link to the span traceparent names, or none.
func LinkTo(traceparent string) []trace.Link {
	sc := trace.SpanContextFromContext(WithTraceParent(context.Background(), traceparent))
	if !sc.IsValid() {
		return nil
	}
	return []trace.Link{{SpanContext: sc}}
}

// End ends span, recording err. The status is Error only for what is the
// server's fault: a client mistake (invalid input, not found, …) or a
// cancellation is recorded but leaves the status unset.
func End(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		if ServerFault(err) {
			span.SetStatus(codes.Error, protostar.ErrorMessage(err))
		}
	}
	span.End()
}

// ServerFault reports whether err is the server's failure rather than the
// client's.
func ServerFault(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	switch protostar.ErrorCode(err) {
	case protostar.EINVALID, protostar.ENOTFOUND, protostar.EUNAUTHORIZED, protostar.EFORBIDDEN,
		protostar.ECONFLICT, protostar.ETOOLARGE, protostar.ERATELIMITED, protostar.EUNPROCESSABLE, protostar.EUNSUPPORTED:
		return false
	}
	return true
}
