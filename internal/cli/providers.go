package cli

import (
	"context"
	"log/slog"
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/config"
	"github.com/protostar/protostar/internal/embedspace"
	"github.com/protostar/protostar/internal/extractive"
	"github.com/protostar/protostar/internal/hashembed"
	"github.com/protostar/protostar/internal/openai"
	"github.com/protostar/protostar/internal/rerank"
	"github.com/protostar/protostar/internal/search"
	"github.com/protostar/protostar/internal/telemetry"
)

// generator is satisfied by every text-generation provider.
type generator interface {
	Summarize(ctx context.Context, in protostar.SummaryInput) (string, error)
	Answer(ctx context.Context, question string, passages []protostar.Passage, onDelta func(string) error) (string, []protostar.Cited, error)
	Model() string
	PromptVersion() string
}

// newProviders returns the factory of embedders (one per embedding space,
// built from the space's settings with this process's endpoint and key)
// and the configured generation provider; the offline ones (hash,
// extractive) need no model or network. The openai ones share their
// request rate and 429 back-off with every process through shared (Redis).
func newProviders(cfg config.Config, logger *slog.Logger, tel *telemetry.Telemetry, shared openai.Shared, metrics *openai.Metrics) (embedspace.Factory, generator, error) {
	oc := openai.Config{
		// Each provider call is a client span of the job or request.
		HTTPClient: &http.Client{Transport: otelhttp.NewTransport(http.DefaultTransport,
			otelhttp.WithTracerProvider(tel.Provider), otelhttp.WithPropagators(tel.Propagator))},
		BaseURL: cfg.OpenAIBaseURL, APIKey: cfg.OpenAIAPIKey, EmbedModel: cfg.EmbedModel,
		Dimensions: cfg.EmbedDimensions, OmitDimensions: !cfg.EmbedSendDimensions, ChatModel: cfg.ChatModel, BatchSize: cfg.EmbedBatchSize,
		RequestsPerSecond: cfg.OpenAIRateLimit, MaxConcurrency: cfg.OpenAIMaxConcurrency, Shared: shared, Metrics: metrics,
	}
	factory := func(spec protostar.SpaceSpec) (protostar.Embedder, error) {
		switch spec.Provider {
		case "openai":
			c := oc
			c.EmbedModel, c.Dimensions, c.OmitDimensions = spec.Model, spec.Dimensions, !spec.SendDimensions
			return openai.NewEmbedder(logger, c)
		case "hash":
			return hashembed.NewModel(spec.Model, spec.Dimensions)
		}
		return nil, protostar.Errorf(protostar.EINVALID, "unknown embedding provider %q", spec.Provider)
	}
	// The configured spec must at least make an embedder: a typo fails the
	// start, not the first ingest.
	if _, err := factory(cfg.EmbedSpec()); err != nil {
		return nil, nil, err
	}
	var (
		g   generator
		err error
	)
	if cfg.GenerateProvider == "openai" {
		g, err = openai.NewGenerator(logger, oc)
	} else {
		g = extractive.New()
	}
	return factory, g, err
}

// searchConfig is the search service's ranking and rerank settings.
func (a *app) searchConfig() search.Config {
	sc := search.Config{BM25: a.cfg.BM25(), VectorWeight: a.cfg.VectorWeight(), KeywordWeight: 1, RerankTopN: a.cfg.RerankTopN, Logger: a.logger}
	if a.cfg.RerankURL != "" {
		sc.Reranker = rerank.New(rerank.Config{URL: a.cfg.RerankURL, Model: a.cfg.RerankModel, APIKey: a.cfg.RerankAPIKey,
			Timeout: a.cfg.RerankTimeout}, nil)
	}
	return sc
}
