// Package console is the operator console: server-rendered HTML pages at
// /console, from templates and static files embedded in the binary, made
// live with htmx 2 and its SSE extension (vendored in static/, no CDN, no
// Node). It signs in with an API key, which it checks with the API's own
// logic and never keeps, and calls the same tenant-scoped stores and
// services as the /v1 handlers; errors map to statuses through the API's
// one mapping (httpapi.ProblemOf).
package console

import (
	"cmp"
	"context"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/answer"
	"github.com/protostar/protostar/internal/httpapi"
)

//go:embed templates static
var files embed.FS

// Auth is the API's key logic: the console signs in and re-checks keys,
// applies the key's and tenant's rate limits and opens event streams,
// exactly as /v1 does.
type Auth interface {
	Authenticate(ctx context.Context, key string) (httpapi.Principal, error)
	Recheck(ctx context.Context, p httpapi.Principal) (httpapi.Principal, error)
	ActFor(ctx context.Context, p httpapi.Principal, tenant string) (string, error)
	Allow(ctx context.Context, tenant string, p httpapi.Principal) error
	AcquireStream(ctx context.Context, tenant string) (context.Context, func(), error)
}

// Store is what the console reads and changes: sessions, and the same
// tenant-scoped documents and jobs as the API. Every method but the
// session ones takes the tenant and returns ENOTFOUND for another's ids.
type Store interface {
	CreateSession(ctx context.Context, s protostar.ConsoleSession) error
	Session(ctx context.Context, tokenHash []byte) (protostar.ConsoleSession, error)
	SetSessionTenant(ctx context.Context, tokenHash []byte, tenantID string) error
	DeleteSession(ctx context.Context, tokenHash []byte) error

	Document(ctx context.Context, tenantID, id string) (protostar.Document, error)
	Documents(ctx context.Context, tenantID string, f protostar.DocumentFilter) ([]protostar.Document, string, error)
	DeleteDocument(ctx context.Context, tenantID, id string) error
	ReindexDocument(ctx context.Context, tenantID, id string, maxAttempts, maxActive int) (protostar.Document, protostar.Job, error)
	DocumentChunks(ctx context.Context, tenantID, documentID string, after, limit int) ([]protostar.ChunkView, error)
	DocumentJobs(ctx context.Context, tenantID, documentID string, limit int) ([]protostar.Job, error)
	Job(ctx context.Context, tenantID, id string) (protostar.Job, error)
	Jobs(ctx context.Context, tenantID, status string, limit int, cursor string) ([]protostar.Job, string, error)
	TenantStats(ctx context.Context, tenantID string) (protostar.TenantStats, error)
}

// Tenants lists the run-time tenants a platform key may switch to.
type Tenants interface {
	Tenants(ctx context.Context) ([]protostar.Tenant, error)
}

// Searcher runs searches (internal/search).
type Searcher interface {
	Search(ctx context.Context, q protostar.SearchQuery) (protostar.SearchResult, error)
}

// Answerer answers questions (internal/answer).
type Answerer interface {
	Answer(ctx context.Context, req answer.Request, onDelta func(string) error) (answer.Result, error)
}

// Summaries requests and reads summaries (internal/summary).
type Summaries interface {
	Request(ctx context.Context, tenantID, documentID, length string) (*protostar.Summary, *protostar.Job, error)
	Latest(ctx context.Context, tenantID, documentID, length string) (protostar.Summary, error)
}

// Dispatcher hands a committed job to the queue, best effort.
type Dispatcher interface {
	Dispatch(ctx context.Context, j protostar.Job)
}

// Webhooks reads a tenant's endpoints and deliveries and retries one.
type Webhooks interface {
	Webhooks(ctx context.Context, tenantID string) ([]protostar.Webhook, error)
	Deliveries(ctx context.Context, tenantID, webhookID string, limit int, cursor string) ([]protostar.Delivery, string, error)
	RetryDelivery(ctx context.Context, tenantID, webhookID, deliveryID string) error
}

// Health reports the dependencies' last probes (httpapi.Checker).
type Health interface {
	Dependencies(ctx context.Context) map[string]string
}

// Deps are the console's collaborators.
type Deps struct {
	Auth       Auth
	Store      Store
	Tenants    Tenants // nil: only PROTOSTAR_API_KEYS tenants
	Search     Searcher
	Answers    Answerer
	Summaries  Summaries
	Dispatcher Dispatcher
	Webhooks   Webhooks // nil: webhooks are off (no PROTOSTAR_SECRET_KEY)
	Health     Health
}

// Config holds the console's settings.
type Config struct {
	EnvTenants     []string      // the tenants PROTOSTAR_API_KEYS names
	JobMaxAttempts int           // of the jobs it starts (default 5)
	TenantMaxJobs  int           // a tenant's cap on queued+running jobs
	SessionTTL     time.Duration // how long a sign-in lasts (default 12h)
}

// Console serves the console's pages under /console/.
type Console struct {
	logger *slog.Logger
	deps   Deps
	cfg    Config
	pages  map[string]*template.Template
	mux    *http.ServeMux
}

// New builds the console; mount it at "/console/".
func New(logger *slog.Logger, deps Deps, cfg Config) (*Console, error) {
	cfg.JobMaxAttempts = cmp.Or(cfg.JobMaxAttempts, 5)
	cfg.SessionTTL = cmp.Or(cfg.SessionTTL, 12*time.Hour)
	c := &Console{logger: logger.With("component", "console"), deps: deps, cfg: cfg, mux: http.NewServeMux()}
	var err error
	if c.pages, err = parsePages(); err != nil {
		return nil, err
	}
	static, err := fs.Sub(files, "static")
	if err != nil {
		return nil, err
	}
	c.routes(http.StripPrefix("/console/static/", http.FileServerFS(static)))
	return c, nil
}

func (c *Console) routes(static http.Handler) {
	m := c.mux
	m.Handle("GET /console/static/", cacheFor(time.Hour, static))
	m.HandleFunc("GET /console/signin", c.signinPage)
	m.HandleFunc("POST /console/signin", c.signin)
	m.HandleFunc("GET /console/lang/{lang}", c.setLanguage)
	m.Handle("POST /console/signout", c.session(c.signout, anyTenant))
	m.Handle("POST /console/tenant", c.session(c.switchTenant, anyTenant))
	m.Handle("GET /console/{$}", c.session(c.overview, needTenant))
	m.Handle("GET /console/documents", c.session(c.documents, needTenant))
	m.Handle("GET /console/documents/{id}", c.session(c.document, needTenant))
	m.Handle("GET /console/documents/{id}/chunks", c.session(c.chunks, needTenant))
	m.Handle("POST /console/documents/{id}/reindex", c.session(c.reindex, needTenant))
	m.Handle("POST /console/documents/{id}/delete", c.session(c.deleteDocument, needTenant))
	m.Handle("POST /console/documents/{id}/summarize", c.session(c.summarize, needTenant))
	m.Handle("GET /console/jobs", c.session(c.jobs, needTenant))
	m.Handle("GET /console/jobs/live", c.session(c.liveJobs, needTenant))
	m.Handle("POST /console/jobs/{id}/retry", c.session(c.retryJob, needTenant))
	m.Handle("GET /console/search", c.session(c.search, needTenant))
	m.Handle("GET /console/ask", c.session(c.ask, needTenant))
	m.Handle("GET /console/ask/stream", c.session(c.askStream, needTenant))
	m.Handle("GET /console/webhooks", c.session(c.webhooks, needTenant))
	m.Handle("POST /console/webhooks/{hook}/deliveries/{id}/retry", c.session(c.retryDelivery, needTenant))
	m.Handle("/console/", c.session(c.notFound, anyTenant))
}

// ServeHTTP serves a console request with its security headers: a strict
// Content-Security-Policy (scripts, styles and connections from this
// origin only, no inline script or style), no framing, no sniffing.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	c.mux.ServeHTTP(w, r)
}

// contentSecurityPolicy admits nothing inline and nothing from elsewhere.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

func cacheFor(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(int(d.Seconds())))
		next.ServeHTTP(w, r)
	})
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request, rq *request) {
	c.fail(w, r, rq, protostar.Errorf(protostar.ENOTFOUND, "no such page"))
}
