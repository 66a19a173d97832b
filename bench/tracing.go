package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/protostar/protostar/internal/testenv"
)

// tracingFigure measures what tracing costs where users feel it: hybrid
// search p99 and ingest throughput of processes that trace every request
// and job (100% sampling, OTLP/HTTP to a receiver in the bench, which
// only counts what it is sent) against the same processes untraced
// (OTEL_TRACES_EXPORTER=none, the default), in the same run, in ABBA order.
// With none, protostar installs no instrumentation (no otelhttp, otelpgx
// or redisotel), so the untraced side is the product as it runs by default.
func (b *bench) tracingFigure(ctx context.Context) ([]Result, error) {
	rec := testenv.StartOTLPReceiver(false)
	defer rec.Close()
	otel := []string{"OTEL_TRACES_EXPORTER=otlp", "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
		"OTEL_EXPORTER_OTLP_ENDPOINT=" + rec.URL, "OTEL_TRACES_SAMPLER=always_on"}
	search, err := b.tracedSearch(ctx, otel)
	if err != nil {
		return nil, err
	}
	ingest, err := b.tracedIngest(ctx, otel)
	if err != nil {
		return nil, err
	}
	if rec.Requests() == 0 {
		return nil, fmt.Errorf("the traced processes exported no spans")
	}
	return []Result{search, ingest}, nil
}

// tracedSearch compares hybrid search through a traced API process with
// the untraced one, on the search corpus.
func (b *bench) tracedSearch(ctx context.Context, otel []string) (Result, error) {
	if b.search == nil {
		w, err := b.searchSetup(ctx)
		if err != nil {
			return Result{}, err
		}
		b.search = w
	}
	traced, err := b.h.start(ctx, "serve", b.main, 0, otel...)
	if err != nil {
		return Result{}, err
	}
	defer traced.Stop()
	runs := []*searchRun{{name: "hybrid/untraced", fn: apiSearchOn(b.serve, b.search.qs, "hybrid")},
		{name: "hybrid/traced", fn: apiSearchOn(traced, b.search.qs, "hybrid")}}
	if err := b.measureSearch(ctx, runs); err != nil {
		return Result{}, err
	}
	off, on := runs[0].res, runs[1].res
	params := map[string]any{"chunks": b.s.SearchChunks, "concurrency": b.s.SearchConcurrency,
		"untraced": off.describe(), "traced": on.describe(), "sampling": "always_on"}
	r := newResult("tracing/search/hybrid/p99", ms(on.lat.quantile(0.99)), "ms",
		"tracing/search/hybrid/untraced_p99", ms(off.lat.quantile(0.99)), params)
	return r.withTarget("ratio <= 1.15, no errors", r.Ratio <= 1.15 && on.errors+off.errors == 0), nil
}

// tracedIngest compares ingest throughput of a traced serve and worker
// with the untraced pair, on the ingest corpus, untraced, traced,
// traced, untraced.
func (b *bench) tracedIngest(ctx context.Context, otel []string) (Result, error) {
	rate, params, err := b.abbaIngest(ctx, "trace", nil, otel)
	if err != nil {
		return Result{}, err
	}
	params["runs"], params["sampling"] = "untraced, traced, traced, untraced", "always_on"
	r := newResult("tracing/ingest/chunks_per_s", rate[1], "chunks/s", "tracing/ingest/untraced_chunks_per_s", rate[0], params)
	return r.withTarget("ratio >= 0.85", r.Ratio >= 0.85), nil
}

// abbaIngest ingests the ingest corpus four times, in the order A, B, B,
// A, each run into the emptied main database by a serve and a worker of
// its own, started with that side's environment; it returns each side's
// mean chunks/s. The main API process is stopped meanwhile (its outbox
// loop would dispatch and fold for the other side) and started again
// after.
func (b *bench) abbaIngest(ctx context.Context, name string, envA, envB []string) (rate [2]float64, params map[string]any, err error) {
	corpus := generateIngestCorpus(b.s.IngestDocs)
	prefixes := []string{name + "-a/", name + "-b/", name + "-c/", name + "-d/"}
	for _, p := range prefixes {
		if err := b.h.upload(ctx, prefixed(p, corpus.keys), corpus.docs); err != nil {
			return rate, nil, err
		}
	}
	b.serve.Stop()
	defer func() {
		var serr error
		if b.serve, serr = b.h.start(ctx, "serve", b.main, 0); serr != nil {
			err = errors.Join(err, serr)
		}
	}()
	var chunks int
	for i, p := range prefixes {
		side, env := 0, envA
		if i == 1 || i == 2 {
			side, env = 1, envB
		}
		run, err := b.ingestWith(ctx, corpus, p, env)
		if err != nil {
			return rate, nil, err
		}
		rate[side] += run.rate / 2
		chunks, _ = run.params["chunks"].(int)
	}
	return rate, map[string]any{"documents": len(corpus.keys), "chunks_per_run": chunks}, nil
}

// ingestWith is one pipeline run by a serve and a worker started for it
// with env.
func (b *bench) ingestWith(ctx context.Context, corpus ingestCorpus, prefix string, env []string) (pipelineRun, error) {
	serve, err := b.h.start(ctx, "serve", b.main, 0, env...)
	if err != nil {
		return pipelineRun{}, err
	}
	defer serve.Stop()
	worker, err := b.h.start(ctx, "worker", b.main, 0, env...)
	if err != nil {
		return pipelineRun{}, err
	}
	defer worker.Stop()
	return b.ingestPipeline(ctx, serve, worker, corpus, prefix)
}

func prefixed(prefix string, keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = prefix + k
	}
	return out
}
