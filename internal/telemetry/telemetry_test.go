package telemetry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/protostar/protostar"
)

const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func TestTraceParentRoundTrip(t *testing.T) {
	ctx := WithTraceParent(context.Background(), parent)
	if got := TraceParent(ctx); got != parent {
		t.Fatalf("TraceParent = %q, want %q", got, parent)
	}
	if links := LinkTo(parent); len(links) != 1 || links[0].SpanContext.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("LinkTo = %+v", links)
	}
	for _, bad := range []string{"", "garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"} {
		if TraceParent(WithTraceParent(context.Background(), bad)) != "" || LinkTo(bad) != nil {
			t.Errorf("traceparent %q should name no span", bad)
		}
	}
	// A context that already has a span keeps it.
	other := WithTraceParent(context.Background(), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	if got := TraceParent(WithTraceParent(other, parent)); got == parent {
		t.Errorf("WithTraceParent replaced the context's own span")
	}
}

func TestServerFault(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{context.Canceled, false},
		{fmt.Errorf("load: %w", protostar.Errorf(protostar.ENOTFOUND, "no such document")), false},
		{protostar.Errorf(protostar.EINVALID, "bad"), false},
		{protostar.Errorf(protostar.ERATELIMITED, "slow down"), false},
		{protostar.Errorf(protostar.EUNAVAILABLE, "redis down"), true},
		{errors.New("boom"), true},
	}
	for _, tt := range tests {
		if got := ServerFault(tt.err); got != tt.want {
			t.Errorf("ServerFault(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestEndSetsErrorStatusOnlyForServerFaults(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tr := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)).Tracer("t")
	_, client := tr.Start(context.Background(), "client mistake")
	End(client, protostar.Errorf(protostar.ENOTFOUND, "no such document"))
	_, server := tr.Start(context.Background(), "server failure")
	End(server, errors.New("boom"))
	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans", len(spans))
	}
	if c := spans[0].Status().Code.String(); c != "Unset" || len(spans[0].Events()) != 1 {
		t.Errorf("client mistake: status %s, %d events", c, len(spans[0].Events()))
	}
	if c := spans[1].Status().Code.String(); c != "Error" {
		t.Errorf("server failure: status %s", c)
	}
}

func TestLogHandlerAddsTraceIDs(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(LogHandler{slog.NewTextHandler(&buf, nil)}).With("component", "x")
	log.InfoContext(WithTraceParent(context.Background(), parent), "traced")
	log.InfoContext(context.Background(), "untraced")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if !strings.Contains(lines[0], "trace_id=4bf92f3577b34da6a3ce929d0e0e4736") || !strings.Contains(lines[0], "span_id=00f067aa0ba902b7") {
		t.Errorf("traced line: %s", lines[0])
	}
	if strings.Contains(lines[1], "trace_id") {
		t.Errorf("untraced line: %s", lines[1])
	}
}

func TestNewFromEnvironment(t *testing.T) {
	tests := []struct {
		exporter string
		enabled  bool
		fails    bool
	}{
		{"", false, false},
		{"none", false, false},
		{"console", true, false},
		{"nonsense", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.exporter, func(t *testing.T) {
			t.Setenv("OTEL_TRACES_EXPORTER", tt.exporter)
			tel, err := New(context.Background(), "serve")
			if (err != nil) != tt.fails {
				t.Fatalf("New: %v", err)
			}
			if err != nil {
				return
			}
			defer tel.Shutdown(context.Background())
			if tel.Enabled() != tt.enabled {
				t.Errorf("Enabled = %v, want %v", tel.Enabled(), tt.enabled)
			}
		})
	}
}
