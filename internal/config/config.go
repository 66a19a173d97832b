// Package config is protostar's one configuration struct, parsed from
// PROTOSTAR_* environment variables, validated once at start and printable
// with its secrets masked.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/protostar/protostar"
)

// Config is every setting of every process role. Field tags name the
// environment variable and its default; the README's configuration table
// mirrors them.
type Config struct {
	DatabaseURL         string        `env:"PROTOSTAR_DATABASE_URL" secret:"url"`
	DatabaseMaxConns    int32         `env:"PROTOSTAR_DATABASE_MAX_CONNS" envDefault:"10"`
	DatabaseWaitTimeout time.Duration `env:"PROTOSTAR_DATABASE_WAIT_TIMEOUT" envDefault:"5m"`

	RedisURL string `env:"PROTOSTAR_REDIS_URL" secret:"url"`

	S3Endpoint     string `env:"PROTOSTAR_S3_ENDPOINT"`
	S3AccessKey    string `env:"PROTOSTAR_S3_ACCESS_KEY" secret:"true"`
	S3SecretKey    string `env:"PROTOSTAR_S3_SECRET_KEY" secret:"true"`
	S3Bucket       string `env:"PROTOSTAR_S3_BUCKET" envDefault:"protostar"`
	S3Region       string `env:"PROTOSTAR_S3_REGION"`
	S3UseTLS       bool   `env:"PROTOSTAR_S3_USE_TLS" envDefault:"false"`
	S3CreateBucket bool   `env:"PROTOSTAR_S3_CREATE_BUCKET" envDefault:"false"`

	// Bucket sync: objects written to (removed from) a tenant's prefix
	// become (stop being) documents, by notification and by reconciliation.
	S3EventsToken    string        `env:"PROTOSTAR_S3_EVENTS_TOKEN" secret:"true"` // POST /v1/s3-events; off when empty
	S3Watch          bool          `env:"PROTOSTAR_S3_WATCH" envDefault:"false"`
	S3NotifyARN      string        `env:"PROTOSTAR_S3_NOTIFY_ARN" envDefault:"arn:minio:sqs::PROTOSTAR:webhook"`
	S3ReconcileEvery time.Duration `env:"PROTOSTAR_S3_RECONCILE_INTERVAL" envDefault:"10m"`
	S3ReconcileRate  float64       `env:"PROTOSTAR_S3_RECONCILE_RATE" envDefault:"50"`
	S3SyncSuffixes   []string      `env:"PROTOSTAR_S3_SYNC_SUFFIXES" envSeparator:"," envDefault:".md,.markdown"`

	HTTPAddr        string        `env:"PROTOSTAR_HTTP_ADDR" envDefault:"127.0.0.1:8080"`
	DebugAddr       string        `env:"PROTOSTAR_DEBUG_ADDR"`       // pprof listener; off when empty
	WorkerHTTPAddr  string        `env:"PROTOSTAR_WORKER_HTTP_ADDR"` // worker role: /healthz, /readyz, /metrics; off when empty
	ShutdownTimeout time.Duration `env:"PROTOSTAR_SHUTDOWN_TIMEOUT" envDefault:"30s"`
	MaxUploadBytes  int64         `env:"PROTOSTAR_MAX_UPLOAD_BYTES" envDefault:"1073741824"`
	MaxJSONBytes    int64         `env:"PROTOSTAR_MAX_JSON_BYTES" envDefault:"1048576"`
	RateLimit       float64       `env:"PROTOSTAR_RATE_LIMIT" envDefault:"50"`
	RateBurst       int           `env:"PROTOSTAR_RATE_BURST" envDefault:"100"`
	TenantRateLimit float64       `env:"PROTOSTAR_TENANT_RATE_LIMIT" envDefault:"200"`
	TenantRateBurst int           `env:"PROTOSTAR_TENANT_RATE_BURST" envDefault:"400"`
	TenantMaxJobs   int           `env:"PROTOSTAR_TENANT_MAX_ACTIVE_JOBS" envDefault:"10000"`

	LogFormat string `env:"PROTOSTAR_LOG_FORMAT" envDefault:"json"`
	LogLevel  string `env:"PROTOSTAR_LOG_LEVEL" envDefault:"info"`

	// APIKeys is "tenant:key,tenant:key"; the key decides the tenant.
	APIKeys string `env:"PROTOSTAR_API_KEYS" secret:"apikeys"`

	WorkerConcurrency  int           `env:"PROTOSTAR_WORKER_CONCURRENCY" envDefault:"4"`
	SummaryConcurrency int           `env:"PROTOSTAR_WORKER_SUMMARY_CONCURRENCY" envDefault:"2"`
	WorkerQueues       string        `env:"PROTOSTAR_WORKER_QUEUES" envDefault:"ingest,summary"`
	JobMaxAttempts     int           `env:"PROTOSTAR_JOB_MAX_ATTEMPTS" envDefault:"5"`
	JobTimeout         time.Duration `env:"PROTOSTAR_JOB_TIMEOUT" envDefault:"2h"`
	QueuePollInterval  time.Duration `env:"PROTOSTAR_QUEUE_POLL_INTERVAL" envDefault:"20ms"`
	DispatchInterval   time.Duration `env:"PROTOSTAR_DISPATCH_INTERVAL" envDefault:"1s"`
	JobStaleAfter      time.Duration `env:"PROTOSTAR_JOB_STALE_AFTER" envDefault:"45s"`
	PurgeInterval      time.Duration `env:"PROTOSTAR_PURGE_INTERVAL" envDefault:"30s"`
	TermStatsInterval  time.Duration `env:"PROTOSTAR_TERM_STATS_INTERVAL" envDefault:"5s"`
	ChunkMaxTokens     int           `env:"PROTOSTAR_CHUNK_MAX_TOKENS" envDefault:"512"`
	ChunkOverlapTokens int           `env:"PROTOSTAR_CHUNK_OVERLAP_TOKENS" envDefault:"64"`
	MigrateOnStart     bool          `env:"PROTOSTAR_MIGRATE_ON_START" envDefault:"false"`
	MaxChunksPerDoc    int           `env:"PROTOSTAR_MAX_CHUNKS_PER_DOCUMENT" envDefault:"100000"`
	TenantMaxChunks    int           `env:"PROTOSTAR_TENANT_MAX_CHUNKS" envDefault:"10000000"`
	IdleBodyTimeout    time.Duration `env:"PROTOSTAR_HTTP_IDLE_BODY_TIMEOUT" envDefault:"30s"`
	MaxUploads         int           `env:"PROTOSTAR_MAX_UPLOADS_IN_FLIGHT" envDefault:"64"`
	TenantMaxUploads   int           `env:"PROTOSTAR_TENANT_MAX_UPLOADS_IN_FLIGHT" envDefault:"16"`
	TenantMaxStreams   int           `env:"PROTOSTAR_TENANT_MAX_STREAMS" envDefault:"100"`
	StreamMaxLifetime  time.Duration `env:"PROTOSTAR_STREAM_MAX_LIFETIME" envDefault:"10m"`

	EmbedProvider   string `env:"PROTOSTAR_EMBED_PROVIDER" envDefault:"hash"`
	EmbedModel      string `env:"PROTOSTAR_EMBED_MODEL" envDefault:"text-embedding-3-small"`
	EmbedDimensions int    `env:"PROTOSTAR_EMBED_DIMENSIONS" envDefault:"384"`
	EmbedBatchSize  int    `env:"PROTOSTAR_EMBED_BATCH_SIZE" envDefault:"64"`
	// VectorIndex is the HNSW index element type (vector or halfvec) of
	// the embedding spaces made from this config: the first one of a new
	// database, and `embeddings create` without --index.
	VectorIndex string `env:"PROTOSTAR_VECTOR_INDEX" envDefault:"vector"`
	// BackfillRate bounds the chunks per second one worker process embeds
	// for embedding-space backfills, so live ingest and search keep their
	// latency (and the provider its rate limit).
	BackfillRate float64 `env:"PROTOSTAR_BACKFILL_RATE" envDefault:"200"`
	// EmbedSendDimensions sends `dimensions` to an openai embedder; models
	// with a fixed size may reject it.
	EmbedSendDimensions bool `env:"PROTOSTAR_EMBED_SEND_DIMENSIONS" envDefault:"true"`

	GenerateProvider string `env:"PROTOSTAR_GENERATE_PROVIDER" envDefault:"extractive"`
	ChatModel        string `env:"PROTOSTAR_CHAT_MODEL" envDefault:"gpt-4o-mini"`

	OpenAIBaseURL string `env:"PROTOSTAR_OPENAI_BASE_URL" envDefault:"https://api.openai.com/v1"`
	OpenAIAPIKey  string `env:"PROTOSTAR_OPENAI_API_KEY" secret:"true"`
	// OpenAIRateLimit is the request rate of every process together: the
	// providers take it from a bucket in Redis (per process while Redis is
	// down).
	OpenAIRateLimit float64 `env:"PROTOSTAR_OPENAI_REQUESTS_PER_SECOND" envDefault:"10"`
	// OpenAIMaxConcurrency bounds each provider's requests in flight per
	// process; 429s narrow the bound adaptively below it.
	OpenAIMaxConcurrency int `env:"PROTOSTAR_OPENAI_MAX_CONCURRENCY" envDefault:"64"`

	CacheTTL time.Duration `env:"PROTOSTAR_CACHE_TTL" envDefault:"24h"`

	// Keyword ranking (BM25) and hybrid fusion.
	SearchBM25K1 float64 `env:"PROTOSTAR_SEARCH_BM25_K1" envDefault:"1.2"`
	SearchBM25B  float64 `env:"PROTOSTAR_SEARCH_BM25_B" envDefault:"0.75"`
	// SearchBM25LengthFloor: chunks shorter than this many average
	// lengths are scored as that long (protostar.BM25.LengthFloor).
	SearchBM25LengthFloor float64 `env:"PROTOSTAR_SEARCH_BM25_LENGTH_FLOOR" envDefault:"1"`
	// SearchBM25Passage weighs a hit's passage score (its chunk and the
	// neighbouring ones) against its chunk's 1 (protostar.BM25.Passage).
	SearchBM25Passage float64 `env:"PROTOSTAR_SEARCH_BM25_PASSAGE" envDefault:"1"`
	// SearchVectorWeight weighs the vector side of hybrid search against
	// the keyword side's 1; unset, it follows the embedder (see
	// VectorWeight).
	SearchVectorWeight *float64 `env:"PROTOSTAR_SEARCH_VECTOR_WEIGHT"`

	// The optional rerank stage: a Cohere/Jina-style /v1/rerank endpoint.
	RerankURL     string        `env:"PROTOSTAR_RERANK_URL" secret:"url"`
	RerankModel   string        `env:"PROTOSTAR_RERANK_MODEL"`
	RerankAPIKey  string        `env:"PROTOSTAR_RERANK_API_KEY" secret:"true"`
	RerankTopN    int           `env:"PROTOSTAR_RERANK_TOP_N" envDefault:"50"`
	RerankTimeout time.Duration `env:"PROTOSTAR_RERANK_TIMEOUT" envDefault:"2s"`

	// SecretKey seals webhook secrets at rest; webhooks need it.
	SecretKey            string          `env:"PROTOSTAR_SECRET_KEY" secret:"true"`
	WebhookAllowHosts    []string        `env:"PROTOSTAR_WEBHOOK_ALLOW_HOSTS" envSeparator:","`
	WebhookRetrySchedule []time.Duration `env:"PROTOSTAR_WEBHOOK_RETRY_SCHEDULE" envSeparator:"," envDefault:"5s,5m,30m,2h,5h,10h,10h"`
	WebhookTimeout       time.Duration   `env:"PROTOSTAR_WEBHOOK_TIMEOUT" envDefault:"15s"`
	WebhookDisableAfter  time.Duration   `env:"PROTOSTAR_WEBHOOK_DISABLE_AFTER" envDefault:"120h"`
	WebhookConcurrency   int             `env:"PROTOSTAR_WEBHOOK_CONCURRENCY" envDefault:"8"`
	WebhooksPerTenant    int             `env:"PROTOSTAR_WEBHOOKS_PER_TENANT" envDefault:"20"`
	WebhookSecretOverlap time.Duration   `env:"PROTOSTAR_WEBHOOK_SECRET_OVERLAP" envDefault:"24h"`
}

// Load parses the environment and validates the result. Every error names
// the variable at fault.
func Load() (Config, error) {
	var c Config
	if err := env.Parse(&c); err != nil {
		return Config{}, describeParseError(err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// VectorWeight is hybrid search's weight of the vector side against the
// keyword side's 1: PROTOSTAR_SEARCH_VECTOR_WEIGHT when set, otherwise 1
// for a learned embedding model and OfflineVectorWeight for the offline
// hash embedder, whose vectors hold the keyword side's own terms and add
// little but noise to its ranking (docs/benchmarks.md, retrieval quality).
func (c Config) VectorWeight() float64 {
	switch {
	case c.SearchVectorWeight != nil:
		return *c.SearchVectorWeight
	case c.EmbedProvider == "hash":
		return OfflineVectorWeight
	}
	return 1
}

// BM25 is keyword search's ranking (PROTOSTAR_SEARCH_BM25_*). Its
// defaults are protostar.DefaultBM25, which the benchmark's raw keyword
// side ranks with.
func (c Config) BM25() protostar.BM25 {
	return protostar.BM25{K1: c.SearchBM25K1, B: c.SearchBM25B, LengthFloor: c.SearchBM25LengthFloor, Passage: c.SearchBM25Passage}
}

// OfflineVectorWeight is the hash embedder's default vector weight.
const OfflineVectorWeight = 0

// Validate checks values that parsed but make no sense.
func (c Config) Validate() error {
	var errs []error
	check := func(ok bool, name, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
		}
	}
	check(c.DatabaseURL != "", "PROTOSTAR_DATABASE_URL", "is required")
	if c.DatabaseURL != "" {
		u, err := url.Parse(c.DatabaseURL)
		check(err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql"), "PROTOSTAR_DATABASE_URL", "must be a postgres:// URL")
	}
	check(c.RedisURL != "", "PROTOSTAR_REDIS_URL", "is required")
	if c.RedisURL != "" {
		u, err := url.Parse(c.RedisURL)
		check(err == nil && (u.Scheme == "redis" || u.Scheme == "rediss"), "PROTOSTAR_REDIS_URL", "must be a redis:// or rediss:// URL")
	}
	check(c.S3Endpoint != "", "PROTOSTAR_S3_ENDPOINT", "is required (host:port, without scheme)")
	check(!strings.Contains(c.S3Endpoint, "://"), "PROTOSTAR_S3_ENDPOINT", "must be host:port without a scheme; use PROTOSTAR_S3_USE_TLS")
	check(c.DatabaseMaxConns >= 2 && c.DatabaseMaxConns <= 1000, "PROTOSTAR_DATABASE_MAX_CONNS", "must be between 2 and 1000, got %d", c.DatabaseMaxConns)
	check(c.DatabaseWaitTimeout > 0, "PROTOSTAR_DATABASE_WAIT_TIMEOUT", "must be positive")
	check(c.LogFormat == "json" || c.LogFormat == "text", "PROTOSTAR_LOG_FORMAT", "must be json or text, got %q", c.LogFormat)
	check(oneOf(c.LogLevel, "debug", "info", "warn", "error"), "PROTOSTAR_LOG_LEVEL", "must be debug, info, warn or error, got %q", c.LogLevel)
	if _, err := c.Tenants(); err != nil {
		errs = append(errs, err)
	}
	check(c.MaxUploadBytes > 0, "PROTOSTAR_MAX_UPLOAD_BYTES", "must be positive")
	check(c.MaxJSONBytes > 0, "PROTOSTAR_MAX_JSON_BYTES", "must be positive")
	check(c.RateLimit > 0 && c.RateBurst > 0, "PROTOSTAR_RATE_LIMIT", "rate and PROTOSTAR_RATE_BURST must be positive")
	check(c.TenantRateLimit >= 0 && c.TenantRateBurst >= 1, "PROTOSTAR_TENANT_RATE_LIMIT", "must be 0 (none) or more, with PROTOSTAR_TENANT_RATE_BURST at least 1")
	check(c.TenantMaxJobs > 0, "PROTOSTAR_TENANT_MAX_ACTIVE_JOBS", "must be positive")
	check(c.S3ReconcileEvery == 0 || c.S3ReconcileEvery >= time.Second, "PROTOSTAR_S3_RECONCILE_INTERVAL", "must be 0 (off) or at least 1s")
	check(c.S3ReconcileRate > 0, "PROTOSTAR_S3_RECONCILE_RATE", "must be positive")
	check(len(c.S3SyncSuffixes) > 0, "PROTOSTAR_S3_SYNC_SUFFIXES", "must name at least one suffix")
	check(c.WorkerConcurrency >= 1 && c.WorkerConcurrency <= 256, "PROTOSTAR_WORKER_CONCURRENCY", "must be between 1 and 256")
	check(c.SummaryConcurrency >= 1 && c.SummaryConcurrency <= 256, "PROTOSTAR_WORKER_SUMMARY_CONCURRENCY", "must be between 1 and 256")
	_, qerr := ParseQueues(c.WorkerQueues)
	check(qerr == nil, "PROTOSTAR_WORKER_QUEUES", "%v", qerr)
	check(c.JobMaxAttempts >= 4, "PROTOSTAR_JOB_MAX_ATTEMPTS", "must be at least 4 (a killed worker costs one attempt)")
	check(c.JobTimeout >= 10*time.Second, "PROTOSTAR_JOB_TIMEOUT", "must be at least 10s")
	check(c.QueuePollInterval >= 5*time.Millisecond, "PROTOSTAR_QUEUE_POLL_INTERVAL", "must be at least 5ms")
	check(c.DispatchInterval >= 100*time.Millisecond, "PROTOSTAR_DISPATCH_INTERVAL", "must be at least 100ms")
	check(c.PurgeInterval >= time.Second, "PROTOSTAR_PURGE_INTERVAL", "must be at least 1s")
	check(c.TermStatsInterval >= 100*time.Millisecond && c.TermStatsInterval <= time.Minute, "PROTOSTAR_TERM_STATS_INTERVAL",
		"must be between 100ms and 1m")
	check(c.JobStaleAfter >= 10*time.Second, "PROTOSTAR_JOB_STALE_AFTER", "must be at least 10s")
	check(c.ChunkMaxTokens >= 32 && c.ChunkMaxTokens <= 8192, "PROTOSTAR_CHUNK_MAX_TOKENS", "must be between 32 and 8192")
	check(c.TenantMaxChunks >= 0, "PROTOSTAR_TENANT_MAX_CHUNKS", "must be 0 (no quota) or more")
	check(c.IdleBodyTimeout >= time.Second, "PROTOSTAR_HTTP_IDLE_BODY_TIMEOUT", "must be at least 1s")
	check(c.MaxUploads >= 1, "PROTOSTAR_MAX_UPLOADS_IN_FLIGHT", "must be at least 1")
	check(c.TenantMaxUploads >= 1, "PROTOSTAR_TENANT_MAX_UPLOADS_IN_FLIGHT", "must be at least 1")
	check(c.TenantMaxStreams >= 1, "PROTOSTAR_TENANT_MAX_STREAMS", "must be at least 1")
	check(c.StreamMaxLifetime >= time.Second, "PROTOSTAR_STREAM_MAX_LIFETIME", "must be at least 1s")
	check(c.MaxChunksPerDoc >= 1, "PROTOSTAR_MAX_CHUNKS_PER_DOCUMENT", "must be at least 1")
	check(c.ChunkOverlapTokens >= 0 && c.ChunkOverlapTokens < c.ChunkMaxTokens/2, "PROTOSTAR_CHUNK_OVERLAP_TOKENS", "must be at least 0 and below half of PROTOSTAR_CHUNK_MAX_TOKENS")
	c.validateAI(check)
	check(c.SecretKey == "" || len(c.SecretKey) >= 16, "PROTOSTAR_SECRET_KEY", "must be at least 16 characters")
	check(len(c.WebhookRetrySchedule) <= 20 && !slices.ContainsFunc(c.WebhookRetrySchedule, func(d time.Duration) bool { return d < 0 }),
		"PROTOSTAR_WEBHOOK_RETRY_SCHEDULE", "must be at most 20 waits, none negative")
	check(c.WebhookTimeout >= time.Second && c.WebhookTimeout <= time.Minute, "PROTOSTAR_WEBHOOK_TIMEOUT", "must be between 1s and 1m")
	check(c.WebhookDisableAfter >= time.Minute, "PROTOSTAR_WEBHOOK_DISABLE_AFTER", "must be at least 1m")
	check(c.WebhookConcurrency >= 1 && c.WebhookConcurrency <= 256, "PROTOSTAR_WEBHOOK_CONCURRENCY", "must be between 1 and 256")
	check(c.WebhooksPerTenant >= 1, "PROTOSTAR_WEBHOOKS_PER_TENANT", "must be at least 1")
	check(c.WebhookSecretOverlap >= 0, "PROTOSTAR_WEBHOOK_SECRET_OVERLAP", "must not be negative")
	return errors.Join(errs...)
}

// validateAI checks the settings of the AI providers and of search.
func (c Config) validateAI(check func(ok bool, name, format string, args ...any)) {
	check(oneOf(c.EmbedProvider, "hash", "openai"), "PROTOSTAR_EMBED_PROVIDER", "must be hash or openai, got %q", c.EmbedProvider)
	check(c.EmbedDimensions >= 8 && c.EmbedDimensions <= 2000, "PROTOSTAR_EMBED_DIMENSIONS", "must be between 8 and 2000 (pgvector's HNSW limit)")
	check(c.EmbedBatchSize >= 1 && c.EmbedBatchSize <= 2048, "PROTOSTAR_EMBED_BATCH_SIZE", "must be between 1 and 2048")
	check(oneOf(c.VectorIndex, protostar.IndexVector, protostar.IndexHalfvec), "PROTOSTAR_VECTOR_INDEX", "must be vector or halfvec, got %q", c.VectorIndex)
	check(c.BackfillRate > 0, "PROTOSTAR_BACKFILL_RATE", "must be above 0 (chunks per second)")
	check(oneOf(c.GenerateProvider, "extractive", "openai"), "PROTOSTAR_GENERATE_PROVIDER", "must be extractive or openai, got %q", c.GenerateProvider)
	if c.EmbedProvider == "openai" || c.GenerateProvider == "openai" {
		u, err := url.Parse(c.OpenAIBaseURL)
		check(err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "", "PROTOSTAR_OPENAI_BASE_URL", "must be an http(s) URL ending in /v1")
		check(c.OpenAIRateLimit > 0, "PROTOSTAR_OPENAI_REQUESTS_PER_SECOND", "must be positive")
		check(c.OpenAIMaxConcurrency >= 1 && c.OpenAIMaxConcurrency <= 4096, "PROTOSTAR_OPENAI_MAX_CONCURRENCY", "must be between 1 and 4096")
	}
	check(c.CacheTTL >= time.Second, "PROTOSTAR_CACHE_TTL", "must be at least 1s")
	check(c.SearchBM25K1 > 0 && c.SearchBM25K1 <= 10, "PROTOSTAR_SEARCH_BM25_K1", "must be above 0 and at most 10")
	check(c.SearchBM25B >= 0 && c.SearchBM25B <= 1, "PROTOSTAR_SEARCH_BM25_B", "must be between 0 and 1")
	check(c.SearchBM25LengthFloor >= 0 && c.SearchBM25LengthFloor <= 4, "PROTOSTAR_SEARCH_BM25_LENGTH_FLOOR", "must be between 0 and 4")
	check(c.SearchBM25Passage >= 0 && c.SearchBM25Passage <= 4, "PROTOSTAR_SEARCH_BM25_PASSAGE", "must be between 0 and 4")
	check(c.SearchVectorWeight == nil || *c.SearchVectorWeight >= 0 && *c.SearchVectorWeight <= 10,
		"PROTOSTAR_SEARCH_VECTOR_WEIGHT", "must be between 0 and 10")
	if c.RerankURL != "" {
		u, err := url.Parse(c.RerankURL)
		check(err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "", "PROTOSTAR_RERANK_URL",
			"must be the http(s) URL of a rerank endpoint, e.g. http://tei:8080/v1/rerank")
	}
	check(c.RerankTopN >= 1 && c.RerankTopN <= 100, "PROTOSTAR_RERANK_TOP_N", "must be between 1 and 100")
	check(c.RerankTimeout >= 10*time.Millisecond && c.RerankTimeout <= time.Minute, "PROTOSTAR_RERANK_TIMEOUT", "must be between 10ms and 1m")
}

// Tenants parses APIKeys into a map from key to tenant; the tenant "*"
// makes a platform key.
func (c Config) Tenants() (map[string]string, error) {
	const name = "PROTOSTAR_API_KEYS"
	out := map[string]string{}
	for i, pair := range strings.Split(c.APIKeys, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		tenant, key, ok := strings.Cut(pair, ":")
		switch {
		case !ok:
			return nil, fmt.Errorf("%s: entry %d is not tenant:key", name, i+1)
		case tenant != "*" && protostar.ValidTenant(tenant) != nil:
			return nil, fmt.Errorf("%s: entry %d: %s", name, i+1, protostar.ErrorMessage(protostar.ValidTenant(tenant)))
		case len(key) < 16:
			return nil, fmt.Errorf("%s: entry %d (tenant %s): key must be at least 16 characters", name, i+1, tenant)
		case out[key] != "":
			return nil, fmt.Errorf("%s: entry %d: the same key is given twice", name, i+1)
		}
		out[key] = tenant
	}
	return out, nil
}

func oneOf(v string, options ...string) bool {
	for _, o := range options {
		if v == o {
			return true
		}
	}
	return false
}

// describeParseError rewrites the env library's field names into the
// variable names an operator actually set.
func describeParseError(err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return fmt.Errorf("parse configuration: %w", err)
	}
	t := reflect.TypeOf(Config{})
	var errs []error
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			if f, ok := t.FieldByName(pe.Name); ok {
				errs = append(errs, fmt.Errorf("%s: invalid %s value: %w", f.Tag.Get("env"), pe.Type, pe.Err))
				continue
			}
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// Queues a worker can consume, named after their job types.
var knownQueues = []string{"ingest", "summary"}

// ParseQueues parses a comma-separated list of queue names
// (PROTOSTAR_WORKER_QUEUES, `worker --queues`): known names, each once, at
// least one. "knowledge", the ingest queue's former name, still means
// ingest.
func ParseQueues(s string) ([]string, error) {
	var out []string
	for _, q := range strings.Split(s, ",") {
		q = strings.TrimSpace(q)
		if q == "knowledge" {
			q = "ingest"
		}
		switch {
		case q == "":
			continue
		case !slices.Contains(knownQueues, q):
			return nil, fmt.Errorf("unknown queue %q: use ingest, summary or both", q)
		case slices.Contains(out, q):
			return nil, fmt.Errorf("queue %q is named twice", q)
		}
		out = append(out, q)
	}
	if len(out) == 0 {
		return nil, errors.New("name at least one queue: ingest, summary")
	}
	return out, nil
}

// EmbedSpec is the embedding space PROTOSTAR_EMBED_* describe: the one a
// new installation starts with. Once spaces exist, the active space's
// settings win (see docs/embedding-models.md).
func (c Config) EmbedSpec() protostar.SpaceSpec {
	model := c.EmbedModel
	// The hash provider's models are named hash-*; any other value (the
	// default names an OpenAI model) means its default, hash-v1.
	if c.EmbedProvider == "hash" && !strings.HasPrefix(model, "hash-") {
		model = "hash-v1"
	}
	return protostar.SpaceSpec{Provider: c.EmbedProvider, Model: model, Dimensions: c.EmbedDimensions, SendDimensions: c.EmbedSendDimensions,
		Index: c.VectorIndex}
}
