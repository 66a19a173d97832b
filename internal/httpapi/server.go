// Package httpapi is protostar's HTTP API: versioned JSON endpoints under
// /v1 described by an OpenAPI 3.1 document (/openapi.json), RFC 9457 problem
// answers for every error, bearer API keys that decide the tenant, plus the
// operational endpoints /healthz, /readyz and /metrics.
package httpapi

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/telemetry"
)

// Store is the document and job bookkeeping the API reads and writes.
// Every method is scoped to a tenant and returns ENOTFOUND for ids of
// other tenants.
type Store interface {
	SubmitDocument(ctx context.Context, s protostar.Submission) (protostar.Document, protostar.Job, error)
	ReindexDocument(ctx context.Context, tenantID, id string, maxAttempts, maxActive int) (protostar.Document, protostar.Job, error)
	Document(ctx context.Context, tenantID, id string) (protostar.Document, error)
	Documents(ctx context.Context, tenantID string, f protostar.DocumentFilter) ([]protostar.Document, string, error)
	DeleteDocument(ctx context.Context, tenantID, id string) error
	Job(ctx context.Context, tenantID, id string) (protostar.Job, error)
	Jobs(ctx context.Context, tenantID, status string, limit int, cursor string) ([]protostar.Job, string, error)
	// WithKeyLock runs fn holding the lock on a tenant's document key that
	// the purge of deleted documents' objects also takes.
	WithKeyLock(ctx context.Context, tenantID, key string, fn func(ctx context.Context, live bool) error) error
}

// Dispatcher hands a committed job to the queue, best effort: when the
// queue is down the job waits in the outbox and nothing is lost.
type Dispatcher interface {
	Dispatch(ctx context.Context, j protostar.Job)
}

// Searcher runs searches.
type Searcher interface {
	Search(ctx context.Context, q protostar.SearchQuery) (protostar.SearchResult, error)
}

// Config holds the API's settings.
type Config struct {
	Keys      map[string]string // API key → tenant
	RateLimit float64           // requests per second per key
	RateBurst int
	// TenantRateLimit and TenantRateBurst limit a tenant's requests over
	// all its keys (0: no tenant limit).
	TenantRateLimit float64
	TenantRateBurst int
	MaxUploadBytes  int64
	MaxJSONBytes    int64
	JobMaxAttempts  int
	TenantMaxJobs   int
	// TenantMaxChunks is a tenant's storage quota in chunks (0: none).
	TenantMaxChunks int
	// MaxStreamsPerTenant caps a tenant's open event streams (default 100);
	// StreamMaxLifetime ends a stream after this long (default 10m), the
	// client reconnects with Last-Event-ID.
	MaxStreamsPerTenant int
	StreamMaxLifetime   time.Duration
	// IdleBodyTimeout cuts off a request body that sends nothing this long
	// (0: none); MaxUploads and TenantMaxUploads cap multipart uploads in
	// flight per process and per tenant (0: none).
	IdleBodyTimeout  time.Duration
	MaxUploads       int
	TenantMaxUploads int
	// VectorIndex is the HNSW index type of embedding spaces created
	// without one (PROTOSTAR_VECTOR_INDEX; vector when empty).
	VectorIndex string
}

// Deps are the API's collaborators.
type Deps struct {
	Store      Store
	Objects    Objects
	Dispatcher Dispatcher
	Search     Searcher
	Summaries  Summaries
	Answers    Answerer
	Webhooks   WebhookDeps
	Lookup     KeyLookup       // stored keys and run-time tenants; nil: PROTOSTAR_API_KEYS only
	Accounts   Accounts        // tenant and key management; nil: no such routes
	Spaces     EmbeddingSpaces // embedding spaces (platform); nil: no such routes
	Limiter    SharedLimiter   // rate-limit buckets shared by replicas; nil: per process
	BucketSync BucketSyncDeps
	Ready      *Checker // serves /readyz; the caller starts and stops it
	Registry   *prometheus.Registry
	// Tracing traces requests (server spans named after their route,
	// continuing a caller's traceparent); nil: none.
	Tracing *telemetry.Telemetry
}

// Server is the HTTP handler of the API.
type Server struct {
	logger *slog.Logger
	deps   Deps
	cfg    Config
	keys   *keyring
	// envTenants are the tenants PROTOSTAR_API_KEYS names: they exist
	// without a row.
	envTenants map[string]bool
	lookups    lookups
	limits     *limiters
	metrics    *metrics
	mux        *http.ServeMux // public and operational routes
	apiMux     *http.ServeMux // /v1 routes, behind authentication
	v1         http.Handler   // apiMux behind authentication and routing checks
	handler    http.Handler
	streams    *streams
	uploads    *uploads
	// queryParams holds the query parameters each /v1 pattern declares.
	queryParams map[string]map[string]bool
	oapi        *huma.OpenAPI // the document /openapi.json serves
}

// New builds the API.
func New(logger *slog.Logger, deps Deps, cfg Config) *Server {
	cfg.RateLimit = cmp.Or(cfg.RateLimit, 50)
	cfg.RateBurst = cmp.Or(cfg.RateBurst, 100)
	cfg.MaxJSONBytes = cmp.Or(cfg.MaxJSONBytes, 1<<20)
	cfg.MaxUploadBytes = cmp.Or(cfg.MaxUploadBytes, 1<<30)
	cfg.JobMaxAttempts = cmp.Or(cfg.JobMaxAttempts, 5)
	deps.Webhooks.PerTenant = cmp.Or(deps.Webhooks.PerTenant, 20)
	s := &Server{
		logger:     logger.With("component", "http"),
		deps:       deps,
		cfg:        cfg,
		keys:       newKeyring(cfg.Keys),
		envTenants: map[string]bool{},
		streams:    newStreams(cfg.MaxStreamsPerTenant, cfg.StreamMaxLifetime),
		uploads:    newUploads(cfg.MaxUploads, cfg.TenantMaxUploads),
		mux:        http.NewServeMux(),
		apiMux:     http.NewServeMux(),
	}
	reg := deps.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s.metrics = newMetrics(reg)
	s.limits = newLimiters(s.logger, deps.Limiter, limit{cfg.RateLimit, cfg.RateBurst}, limit{cfg.TenantRateLimit, cfg.TenantRateBurst})
	for _, t := range cfg.Keys {
		s.envTenants[t] = true
	}

	api := humago.New(s.apiMux, apiConfig())
	s.registerDocuments(api)
	s.registerJobs(api)
	s.registerJobEvents(api)
	s.registerSearch(api)
	s.registerSummaries(api)
	s.registerAnswers(api)
	s.registerWebhooks(api)
	s.registerAccounts(api)
	s.registerSpaces(api)
	s.registerBucketSync(api)
	documentValidationAs400(api.OpenAPI())
	describeAPI(api.OpenAPI())
	s.queryParams = declaredQueryParams(api.OpenAPI())
	s.oapi = api.OpenAPI()

	ready := deps.Ready
	if ready == nil {
		ready = NewChecker(nil, 0)
	}
	handleOps(s.mux, ready, reg)
	s.mux.Handle("GET /openapi.json", s.apiMux)
	s.mux.Handle("GET /openapi.yaml", s.apiMux)
	s.mux.HandleFunc("GET /docs", docsPage)
	s.mux.HandleFunc("POST "+s3EventsPath, s.s3Events)
	s.v1 = s.authenticate(http.HandlerFunc(s.serveAPI))
	s.handler = s.traced(withRequestID(s.recoverPanics(s.instrument(http.HandlerFunc(s.route)))))
	return s
}

// checkQuery refuses a query string that would otherwise be misread in
// silence: invalid percent-encoding (Go drops such pairs, so a client's
// broken cursor read as "first page" and its pager looped), a parameter
// given twice, or one the route does not declare (a typo is not ignored).
func (s *Server) checkQuery(pattern, raw string) error {
	values, err := url.ParseQuery(raw)
	if err != nil {
		return protostar.Errorf(protostar.EINVALID, "the query string is malformed (invalid percent-encoding or a ';')")
	}
	declared, known := s.queryParams[pattern]
	for name, vs := range values {
		if len(vs) > 1 {
			return protostar.Errorf(protostar.EINVALID, "query parameter %q is given %d times; give it once", excerpt(name), len(vs))
		}
		if known && !declared[name] {
			return protostar.Errorf(protostar.EINVALID, "unknown query parameter %q", excerpt(name))
		}
	}
	return nil
}

// declaredQueryParams maps each operation's mux pattern ("GET /v1/jobs")
// to the query parameters it declares in the OpenAPI document.
func declaredQueryParams(oapi *huma.OpenAPI) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for p, item := range oapi.Paths {
		ops := map[string]*huma.Operation{http.MethodGet: item.Get, http.MethodPost: item.Post,
			http.MethodPut: item.Put, http.MethodPatch: item.Patch, http.MethodDelete: item.Delete}
		for method, op := range ops {
			if op == nil {
				continue
			}
			names := map[string]bool{}
			for _, prm := range op.Parameters {
				if prm.In == "query" {
					names[prm.Name] = true
				}
			}
			out[method+" "+p] = names
		}
	}
	return out
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Mount serves h under prefix (e.g. "/console/") behind the same request
// ids, tracing, metrics and panic recovery as the API; call it before
// serving. The operator console is mounted so.
func (s *Server) Mount(prefix string, h http.Handler) {
	s.mux.Handle(prefix, h)
}

// route sends /v1 requests to the API as they are, so that the mux's
// redirects of non-canonical paths never apply to them, and everything
// else to the operational mux.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != s3EventsPath && (r.URL.Path == "/v1" || strings.HasPrefix(r.URL.Path, "/v1/")) {
		s.v1.ServeHTTP(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// serveAPI serves an authenticated /v1 request. Paths with dot segments,
// unknown routes, wrong methods and repeated query parameters get problem
// answers instead of the mux's redirects and plain-text pages.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	if path.Clean(r.URL.Path) != r.URL.Path {
		writeDomainProblem(w, protostar.Errorf(protostar.ENOTFOUND, "no such resource: the path is not canonical"))
		return
	}
	_, pattern := s.apiMux.Handler(r)
	if err := s.checkQuery(pattern, r.URL.RawQuery); err != nil {
		writeDomainProblem(w, err)
		return
	}
	if pattern == "" {
		var allowed []string
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			probe := r.WithContext(r.Context())
			probe.Method = m
			if _, p := s.apiMux.Handler(probe); p != "" {
				allowed = append(allowed, m)
			}
		}
		if len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			writeProblem(w, http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed here; use "+strings.Join(allowed, " or "))
			return
		}
		writeDomainProblem(w, protostar.Errorf(protostar.ENOTFOUND, "no such resource"))
		return
	}
	withIdleBody(w, r, s.cfg.IdleBodyTimeout)
	s.apiMux.ServeHTTP(w, r)
}

// maxBodyBytes is the MaxBodyBytes of every operation whose body huma
// reads: huma refuses a body of exactly MaxBodyBytes, so this lets bodies
// of up to PROTOSTAR_MAX_JSON_BYTES through.
func (s *Server) maxBodyBytes() int64 { return s.cfg.MaxJSONBytes + 1 }

// errNotUTF8 answers a JSON body that is not UTF-8; encoding/json would
// otherwise silently replace the bad bytes with U+FFFD.
var errNotUTF8 = errors.New("body is not valid UTF-8")

// strictJSON is huma's JSON format, refusing bodies that are not UTF-8
// and writing nil slices as [] (encodeJSON).
var strictJSON = huma.Format{
	Marshal: encodeJSON,
	Unmarshal: func(data []byte, v any) error {
		if !utf8.Valid(data) {
			return errNotUTF8
		}
		return huma.DefaultJSONFormat.Unmarshal(data, v)
	},
}

func apiConfig() huma.Config {
	cfg := huma.DefaultConfig("protostar API", "1.0.0")
	cfg.Info.Description = "The knowledge engine behind Protostar: ingest Markdown from object storage, " +
		"search it (hybrid vector + Korean-aware keyword), summarise it and answer questions with citations. " +
		"Every /v1 call needs `Authorization: Bearer <api key>`; the key decides the tenant. Errors are RFC 9457 problem+json."
	cfg.OpenAPIPath = "/openapi"
	cfg.DocsPath = "" // huma's page loads assets from the internet; /docs is ours
	cfg.SchemasPath = ""
	cfg.CreateHooks = nil // no $schema links in response bodies
	cfg.Formats = map[string]huma.Format{"application/json": strictJSON, "json": strictJSON}
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "An API key from PROTOSTAR_API_KEYS."},
	}
	cfg.Security = []map[string][]string{{"bearer": {}}}
	cfg.Transformers = append(cfg.Transformers, shortenErrorValues, requestIDInProblems)
	return cfg
}

// canRefuseContent lists the operations that answer 422: a valid request
// whose content cannot be processed (see statusOf).
var canRefuseContent = map[string]bool{"answer": true}

// documentValidationAs400 makes the spec say what validationIs400 does:
// huma documents a 422 for every operation it validates; those answer 400.
func documentValidationAs400(oapi *huma.OpenAPI) {
	for _, item := range oapi.Paths {
		for _, op := range []*huma.Operation{item.Get, item.Put, item.Post, item.Delete, item.Patch} {
			if op == nil || op.Responses["422"] == nil || canRefuseContent[op.OperationID] {
				continue
			}
			if op.Responses["400"] == nil {
				r := *op.Responses["422"]
				r.Description = http.StatusText(http.StatusBadRequest)
				op.Responses["400"] = &r
			}
			delete(op.Responses, "422")
		}
	}
}

// shortenErrorValues keeps huma's validation problems from echoing a large
// input back: each error's value is quoted as a short excerpt at most.
func shortenErrorValues(_ huma.Context, _ string, v any) (any, error) {
	em, ok := v.(*huma.ErrorModel)
	if !ok {
		return v, nil
	}
	for _, d := range em.Errors {
		if d == nil || d.Value == nil {
			continue
		}
		s, isString := d.Value.(string)
		if !isString {
			raw, err := json.Marshal(d.Value)
			if err != nil {
				d.Value = nil
				continue
			}
			s = string(raw)
		}
		if len(s) > maxExcerpt {
			d.Value = excerpt(s)
		}
	}
	return em, nil
}

// routeOf names the route pattern that serves r, for metrics labels.
func (s *Server) routeOf(r *http.Request) string {
	mux := s.mux
	if strings.HasPrefix(r.URL.Path, "/v1/") && r.URL.Path != s3EventsPath {
		mux = s.apiMux
	}
	if _, pattern := mux.Handler(r); pattern != "" {
		return pattern
	}
	return "unmatched"
}

// recoverPanics turns a handler panic into a logged 500 problem.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.logger.Error("handler panic", "panic", v, "path", r.URL.Path)
				writeProblem(w, http.StatusInternalServerError, "internal error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}
