// Package openai is the adapter for any OpenAI-compatible endpoint (OpenAI,
// Ollama, vLLM and the like) for embeddings and streaming chat. Embedder
// embeds texts in batches; Generator summarises sections and answers
// questions from retrieved passages with [n] citation markers.
//
// Both share one retry policy: 429 waits for Retry-After and resends the
// same request, 5xx and network failures back off exponentially, and every
// other 4xx fails at once with a permanent protostar.Error. go-openai itself
// never retries, so retries are not stacked.
package openai

import (
	"cmp"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/protostar/protostar"
)

// Defaults applied by NewEmbedder and NewGenerator to zero Config fields.
const (
	DefaultBaseURL           = "https://api.openai.com/v1"
	DefaultBatchSize         = 64
	DefaultRequestsPerSecond = 10
	DefaultMaxAttempts       = 5
	DefaultMaxElapsed        = 2 * time.Minute
	DefaultTimeout           = 60 * time.Second
	DefaultMaxConcurrency    = 64
	// initialEmbedWindow is where an Embedder's concurrency window starts:
	// a burst of batches at full concurrency against a provider at its
	// limit would mostly come back 429. A Generator's starts at
	// MaxConcurrency, so that answers never queue behind a cold window.
	initialEmbedWindow = 4
)

// Config configures an Embedder or a Generator. Zero fields take the
// defaults above.
type Config struct {
	// BaseURL is the API root, e.g. https://api.openai.com/v1 or
	// http://127.0.0.1:11434/v1. A URL without a path gets /v1 appended, so
	// http://127.0.0.1:11434 works for Ollama and vLLM; an endpoint URL such
	// as …/v1/embeddings is rejected.
	BaseURL string
	// APIKey is sent as a bearer token. It may be empty (Ollama). It is
	// never logged: Config's String and LogValue mask it.
	APIKey string
	// EmbedModel is the embedding model; required by NewEmbedder.
	EmbedModel string
	// Dimensions is the embedding size, sent as `dimensions` and checked on
	// every returned vector; required (> 0) by NewEmbedder.
	Dimensions int
	// OmitDimensions leaves `dimensions` out of embedding requests, for
	// models with a fixed size that reject the field (text-embedding-ada-002,
	// many Ollama and vLLM models). Dimensions must then be the model's size.
	OmitDimensions bool
	// ChatModel is the chat model; required by NewGenerator.
	ChatModel string
	// BatchSize is the number of texts per embeddings request.
	BatchSize int
	// RequestsPerSecond throttles every HTTP request (retries included) of
	// one Embedder or Generator. math.Inf(1) disables throttling.
	RequestsPerSecond float64
	// MaxAttempts bounds the requests per batch or chat call, the first
	// one included.
	MaxAttempts int
	// MaxElapsed bounds the time a call keeps retrying: no new attempt
	// starts once waiting for it would exceed the budget.
	MaxElapsed time.Duration
	// Timeout bounds one HTTP request. For a streamed answer it bounds the
	// wait for the response and then the silence between two events, so a
	// long answer that keeps streaming is never cut off.
	Timeout time.Duration
	// HTTPClient sends the requests; nil means a new http.Client. Its own
	// Timeout, if any, also applies (and would cut long streams).
	HTTPClient *http.Client
	// MaxConcurrency bounds the requests one Embedder or Generator has in
	// flight. The bound adapts below it: every 429 halves it, and successes
	// widen it again (see gate).
	MaxConcurrency int
	// Shared holds the request rate and the back-off after a 429 in common
	// with every other process (Redis); nil keeps them per process.
	// RequestsPerSecond is then the rate of all processes together.
	Shared Shared
	// Metrics records the requests' outcomes and the window; nil records
	// nothing.
	Metrics *Metrics
}

// String prints the configuration with the API key masked.
func (c Config) String() string {
	return fmt.Sprintf("openai.Config{BaseURL:%s APIKey:%s EmbedModel:%s Dimensions:%d OmitDimensions:%t ChatModel:%s BatchSize:%d RequestsPerSecond:%g MaxAttempts:%d MaxElapsed:%s Timeout:%s MaxConcurrency:%d Shared:%t}",
		c.BaseURL, maskKey(c.APIKey), c.EmbedModel, c.Dimensions, c.OmitDimensions, c.ChatModel, c.BatchSize, c.RequestsPerSecond, c.MaxAttempts, c.MaxElapsed, c.Timeout,
		c.MaxConcurrency, c.Shared != nil)
}

// LogValue logs the configuration with the API key masked.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("base_url", c.BaseURL),
		slog.String("api_key", maskKey(c.APIKey)),
		slog.String("embed_model", c.EmbedModel),
		slog.Int("dimensions", c.Dimensions),
		slog.Bool("omit_dimensions", c.OmitDimensions),
		slog.String("chat_model", c.ChatModel),
		slog.Int("batch_size", c.BatchSize),
		slog.Float64("requests_per_second", c.RequestsPerSecond),
		slog.Int("max_attempts", c.MaxAttempts),
		slog.Duration("max_elapsed", c.MaxElapsed),
		slog.Duration("timeout", c.Timeout),
		slog.Int("max_concurrency", c.MaxConcurrency),
		slog.Bool("shared_limits", c.Shared != nil),
	)
}

func maskKey(k string) string {
	if k == "" {
		return ""
	}
	return "****"
}

// withDefaults fills zero fields and validates the fields both constructors
// use. Model-specific fields are checked by the constructors.
func (c Config) withDefaults() (Config, error) {
	c.BatchSize = cmp.Or(c.BatchSize, DefaultBatchSize)
	c.RequestsPerSecond = cmp.Or(c.RequestsPerSecond, DefaultRequestsPerSecond)
	c.MaxAttempts = cmp.Or(c.MaxAttempts, DefaultMaxAttempts)
	c.MaxElapsed = cmp.Or(c.MaxElapsed, DefaultMaxElapsed)
	c.Timeout = cmp.Or(c.Timeout, DefaultTimeout)
	c.MaxConcurrency = cmp.Or(c.MaxConcurrency, DefaultMaxConcurrency)
	switch {
	case c.BatchSize < 1:
		return c, protostar.Errorf(protostar.EINVALID, "openai: batch size must be positive, got %d", c.BatchSize)
	case c.RequestsPerSecond < 0 || math.IsNaN(c.RequestsPerSecond):
		return c, protostar.Errorf(protostar.EINVALID, "openai: requests per second must be positive, got %g", c.RequestsPerSecond)
	case c.MaxAttempts < 1:
		return c, protostar.Errorf(protostar.EINVALID, "openai: max attempts must be positive, got %d", c.MaxAttempts)
	case c.MaxElapsed < 0:
		return c, protostar.Errorf(protostar.EINVALID, "openai: max elapsed must be positive, got %s", c.MaxElapsed)
	case c.Timeout < 0:
		return c, protostar.Errorf(protostar.EINVALID, "openai: timeout must be positive, got %s", c.Timeout)
	case c.MaxConcurrency < 1:
		return c, protostar.Errorf(protostar.EINVALID, "openai: max concurrency must be positive, got %d", c.MaxConcurrency)
	}
	base, err := normalizeBaseURL(c.BaseURL)
	if err != nil {
		return c, err
	}
	c.BaseURL = base
	return c, nil
}

// normalizeBaseURL returns the API root that go-openai appends endpoint
// paths (/embeddings, /chat/completions) to. A bare host gets /v1, which is
// where OpenAI, Ollama and vLLM all serve the API; other paths are kept as
// given, since some providers use roots like /api/v1 or /v1beta/openai.
func normalizeBaseURL(raw string) (string, error) {
	s := strings.TrimSpace(cmp.Or(raw, DefaultBaseURL))
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", protostar.Errorf(protostar.EINVALID, "openai: base URL must be an absolute http(s) URL such as %s", DefaultBaseURL)
	}
	if u.User != nil {
		return "", protostar.Errorf(protostar.EINVALID, "openai: base URL %s must not contain credentials; set the API key instead", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", protostar.Errorf(protostar.EINVALID, "openai: base URL %s must not have a query or fragment", u.Redacted())
	}
	p := strings.TrimRight(u.Path, "/")
	for _, endpoint := range []string{"/embeddings", "/chat/completions", "/completions"} {
		if strings.HasSuffix(p, endpoint) {
			return "", protostar.Errorf(protostar.EINVALID, "openai: base URL %s must be the API root (ending in /v1), not the %s endpoint", u.Redacted(), endpoint)
		}
	}
	if p == "/api" {
		return "", protostar.Errorf(protostar.EINVALID, "openai: base URL %s is Ollama's native API; its OpenAI-compatible API is at /v1", u.Redacted())
	}
	if p == "" {
		p = "/v1"
	}
	u.Path, u.RawPath = p, ""
	return u.String(), nil
}

// client is what Embedder and Generator share: the go-openai client, the
// gate (throttle and adaptive concurrency) and the retry settings.
type client struct {
	api    *goopenai.Client
	gate   *gate
	cfg    Config
	logger *slog.Logger
}

// newClient returns a client whose gate is shared with every client of the
// same endpoint, key and model (through cfg.Shared); its concurrency
// window starts at window requests.
func newClient(logger *slog.Logger, cfg Config, model string, window int) *client {
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	oc := goopenai.DefaultConfig(cfg.APIKey)
	oc.BaseURL = cfg.BaseURL
	oc.HTTPClient = &doer{client: hc}
	return &client{
		api:    goopenai.NewClientWithConfig(oc),
		gate:   newGate(logger, cfg, model, window),
		cfg:    cfg,
		logger: logger,
	}
}

// redact removes the API key from provider text that is about to become
// part of an error message.
func (c *client) redact(s string) string {
	if c.cfg.APIKey == "" {
		return s
	}
	return strings.ReplaceAll(s, c.cfg.APIKey, "****")
}
