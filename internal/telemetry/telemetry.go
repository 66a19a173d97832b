// Package telemetry sets up OpenTelemetry tracing from the standard OTEL_*
// environment (exporter, endpoint, sampler, resource), carries trace
// context across the job queue, and adds trace ids to log lines. With
// OTEL_TRACES_EXPORTER unset or "none" the provider records nothing and
// costs almost nothing.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Telemetry is a process's tracer provider and propagator.
type Telemetry struct {
	Provider   trace.TracerProvider
	Propagator propagation.TextMapPropagator
	shutdown   func(context.Context) error
}

// Propagator is W3C trace context and baggage, what NestJS sends.
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// New builds the tracer provider the environment asks for: exporter from
// OTEL_TRACES_EXPORTER (otlp, console or none; default none), OTLP over
// HTTP or gRPC per OTEL_EXPORTER_OTLP_PROTOCOL and its endpoint variables,
// the sampler from OTEL_TRACES_SAMPLER(_ARG), and the resource from
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (service.name defaults to
// protostar; role is the process's role).
func New(ctx context.Context, role string) (*Telemetry, error) {
	t := &Telemetry{Propagator: Propagator(), shutdown: func(context.Context) error { return nil }}
	exporter := strings.TrimSpace(strings.ToLower(os.Getenv("OTEL_TRACES_EXPORTER")))
	if exporter == "" || exporter == "none" {
		t.Provider = noop.NewTracerProvider()
		return t, nil
	}
	exp, err := autoexport.NewSpanExporter(ctx)
	if err != nil {
		return nil, fmt.Errorf("OTEL_TRACES_EXPORTER=%s: %w", exporter, err)
	}
	res, err := resource.Merge(resource.NewSchemaless(semconv.ServiceName("protostar"), semconv.ServiceVersion(buildVersion()),
		semconv.ServiceInstanceID(instanceID()), attrRole(role)), resource.Environment())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	// The sampler comes from OTEL_TRACES_SAMPLER (parentbased_always_on by
	// default), which the SDK reads itself.
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	t.Provider, t.shutdown = tp, tp.Shutdown
	return t, nil
}

// Enabled reports whether spans are recorded and exported.
func (t *Telemetry) Enabled() bool {
	_, noopProvider := t.Provider.(noop.TracerProvider)
	return !noopProvider
}

// Shutdown flushes the spans not exported yet.
func (t *Telemetry) Shutdown(ctx context.Context) error { return t.shutdown(ctx) }

// buildVersion is the module version the binary was built from.
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "devel"
}

func instanceID() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}
