package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/openai"
)

// simModel is the simulated provider's model name, as the worker sends it.
const simModel = "sim-embedding-384"

// providerFigure measures ingestion against a remote embedding model: the
// simulated OpenAI-compatible provider on loopback (see simProvider),
// used through protostar's real openai provider. The pipeline is a
// `protostar worker` with PROTOSTAR_EMBED_PROVIDER=openai pointed at it;
// the naive path embeds one chunk per call through the same provider
// package, with the same client-side throttle. Results: pipeline against naive, pipeline against the
// provider's own limit, and the 429s the pipeline received.
func (b *bench) providerFigure(ctx context.Context) ([]Result, error) {
	sim, err := startSimProvider(b.sim)
	if err != nil {
		return nil, err
	}
	defer sim.Close()
	corpus := generateIngestCorpus(b.s.IngestDocs)
	if err := b.h.upload(ctx, prefixed("provider/", corpus.keys), corpus.docs); err != nil {
		return nil, err
	}
	// A database whose embedding space is the simulated model's, as an
	// installation configured for it has: processes embed with the active
	// space's settings, whatever their environment says.
	db, err := b.h.newDatabaseSpace(ctx, protostar.SpaceSpec{Provider: "openai", Model: simModel, Dimensions: embedDims, SendDimensions: true})
	if err != nil {
		return nil, err
	}
	serve, err := b.h.start(ctx, "serve", db, 0, b.providerEnv(sim)...)
	if err != nil {
		return nil, err
	}
	defer serve.Stop()
	worker, err := b.h.start(ctx, "worker", db, 0, b.providerEnv(sim)...)
	if err != nil {
		return nil, err
	}
	sim.Reset()
	run, err := b.ingestPipelineOn(ctx, db, serve, worker, corpus, "provider/")
	worker.Stop()
	if err != nil {
		return nil, err
	}
	if pipe := sim.Stats(); pipe.OK == 0 {
		return nil, fmt.Errorf("the pipeline's worker sent the simulated provider no request")
	}
	pipe := sim.Stats()

	emb, err := openai.NewEmbedder(slog.New(slog.DiscardHandler), openai.Config{BaseURL: sim.BaseURL(), APIKey: simKey,
		EmbedModel: simModel, Dimensions: embedDims, BatchSize: 1, RequestsPerSecond: float64(b.sim.RPM) / 60, MaxAttempts: 20, MaxElapsed: 10 * time.Minute})
	if err != nil {
		return nil, err
	}
	few := ingestCorpus{keys: corpus.keys[:min(b.s.ProviderNaiveDocs, len(corpus.keys))]}
	sim.Reset()
	naive, err := b.ingestNaive(ctx, few, "provider/", "naive-provider", emb)
	if err != nil {
		return nil, err
	}
	naive.params["provider"] = sim.Stats().params()
	return b.providerResults(run, naive, pipe), nil
}

const simKey = "sk-bench-simulated-0123456789"

// providerWorkerConcurrency is the worker's PROTOSTAR_WORKER_CONCURRENCY
// with a remote model: a document spends most of its time waiting for the
// provider, so four at a time leave it idle. The provider's adaptive limit
// keeps the extra documents from exceeding its rate limits.
const providerWorkerConcurrency = 16

// providerEnv points a worker at the simulated provider. Its client-side
// throttle is set to the provider's request limit, as an operator sets it
// to their tier's.
func (b *bench) providerEnv(sim *simProvider) []string {
	return []string{"PROTOSTAR_EMBED_PROVIDER=openai", "PROTOSTAR_OPENAI_BASE_URL=" + sim.BaseURL(),
		"PROTOSTAR_OPENAI_API_KEY=" + simKey, "PROTOSTAR_EMBED_MODEL=" + simModel,
		"PROTOSTAR_OPENAI_REQUESTS_PER_SECOND=" + strconv.FormatFloat(float64(b.sim.RPM)/60, 'f', -1, 64),
		"PROTOSTAR_WORKER_CONCURRENCY=" + strconv.Itoa(providerWorkerConcurrency)}
}

// providerResults turns the runs into the figure's results.
func (b *bench) providerResults(run pipelineRun, naive yardstick, pipe simStats) []Result {
	batch := float64(pipe.Inputs) / float64(max(pipe.OK, 1))
	perText := float64(pipe.Tokens) / float64(max(pipe.Inputs, 1))
	limit := b.sim.limitChunksPerSecond(batch, perText)
	sim := b.sim.params()
	pipeline := merge(clone(run.params), map[string]any{"provider": pipe.params(), "embedder": "openai (protostar's provider) → simulated",
		"worker_concurrency": providerWorkerConcurrency, "batch_size": 64})
	common := map[string]any{"simulated_provider": sim, "pipeline": pipeline}
	pn := newResult("provider/pipeline/naive", run.rate, "chunks/s", "provider/naive", naive.rate,
		merge(clone(common), map[string]any{"baseline": naive.params}))
	pl := newResult("provider/pipeline/limit", run.rate, "chunks/s", "provider/limit", limit,
		merge(clone(common), map[string]any{"baseline": map[string]any{
			"formula":           "min(RPM × texts per request, TPM / tokens per text) / 60, from the pipeline run's requests",
			"texts_per_request": round(batch), "tokens_per_text": round(perText)}}))
	th := newResult("provider/pipeline/throttled", float64(pipe.Throttled), "responses", "provider/pipeline/requests",
		float64(pipe.Requests), merge(clone(common), map[string]any{"retries_succeeded": pipe.RetriedOK}))
	return []Result{
		pn.withTarget("ratio >= 10", pn.Ratio >= 10),
		pl.withTarget("ratio >= 0.8", pl.Ratio >= 0.8),
		th,
	}
}

// params describes the simulated provider's settings.
func (c simConfig) params() map[string]any {
	return map[string]any{"simulated": true, "latency_ms": ms(c.Latency), "per_token_ms": ms(c.PerToken),
		"rpm": c.RPM, "tpm": c.TPM, "dimensions": c.Dims, "model": c.ModelName,
		"limits":  "429 with Retry-After and Retry-After-Ms; per-minute limits refill continuously with a burst of one second's share",
		"vectors": "deterministic (the offline hash embedder's)", "tokens": "cl100k_base"}
}

// params describes what the simulated provider saw.
func (s simStats) params() map[string]any {
	secs := s.lastRequest.Sub(s.firstRequest).Seconds()
	return map[string]any{"requests": s.Requests, "ok": s.OK, "throttled_429": s.Throttled, "retries_succeeded": s.RetriedOK,
		"texts": s.Inputs, "tokens": s.Tokens, "bad_requests": s.BadRequests, "max_in_flight": s.MaxInFlight,
		"tokens_per_minute": round(float64(s.Tokens) / max(secs, 1e-9) * 60), "requests_per_minute": round(float64(s.OK) / max(secs, 1e-9) * 60)}
}
