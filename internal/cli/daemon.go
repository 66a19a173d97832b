package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/extra/redisotel/v9"
	goredis "github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/answer"
	"github.com/protostar/protostar/internal/config"
	"github.com/protostar/protostar/internal/console"
	"github.com/protostar/protostar/internal/embedspace"
	"github.com/protostar/protostar/internal/httpapi"
	"github.com/protostar/protostar/internal/ingest"
	"github.com/protostar/protostar/internal/openai"
	"github.com/protostar/protostar/internal/outbox"
	"github.com/protostar/protostar/internal/postgres"
	"github.com/protostar/protostar/internal/purge"
	"github.com/protostar/protostar/internal/queue"
	"github.com/protostar/protostar/internal/redis"
	"github.com/protostar/protostar/internal/s3"
	"github.com/protostar/protostar/internal/search"
	"github.com/protostar/protostar/internal/telemetry"
	"github.com/protostar/protostar/internal/webhook"
	"github.com/protostar/protostar/internal/worker"
)

// app holds the process's long-lived components, built once by newApp.
type app struct {
	cfg     config.Config
	logger  *slog.Logger
	db      *postgres.DB
	redis   *goredis.Client // asynq's, untraced: it polls many times a second
	kv      *goredis.Client // the cache's and rate limits' (traced when tracing is on)
	cache   *redis.Cache    // of summaries and answers
	objects *s3.Store
	queue   *queue.Client
	outbox  *outbox.Outbox
	hooks   *webhook.Dispatcher
	sealer  *webhook.Sealer // nil without PROTOSTAR_SECRET_KEY
	guard   *webhook.Guard
	sync    *bucketSync
	tel     *telemetry.Telemetry
	tracer  trace.Tracer
	reg     *prometheus.Registry
	spaces  *embedspace.Registry // embedding spaces and their embedders
	gen     generator

	api       *httpapi.Server
	ready     *httpapi.Checker // the API's /readyz, probing in the background
	started   atomic.Bool      // every component started: until then /readyz fails (migrations, dependency waits)
	draining  atomic.Bool      // the API is stopping: /readyz fails, answers close their connection
	conns     atomic.Int64     // open client connections of the API
	consuming atomic.Bool      // the workers take jobs from the queue
}

// drainFor bounds how long a stopping API keeps serving before it closes
// its listener. Meanwhile /readyz answers 503, so load balancers stop
// routing to it, and every answer closes its connection, so clients move to
// other instances instead of sending a request on a keep-alive connection
// at the moment shutdown closes it (which they would see as a connection
// reset). The drain ends early once no client connection is open.
const drainFor = 3 * time.Second

// readinessEvery is how often /readyz's dependency probes run, whatever
// the request rate; the metrics' backlog figures are read as often at most.
const readinessEvery = 2 * time.Second

// runServer runs serve, worker or all until ctx ends. Its components start
// in order and stop in reverse on every path out (see lifecycle): the API
// drains first, then the workers finish their jobs, then the outbox loop
// and the bucket check stop, then the side listeners, then the pools.
func runServer(ctx context.Context, role string, args []string, stderr io.Writer) error {
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	if cfg.WorkerQueues, err = queuesFlag(role, args, cfg.WorkerQueues); err != nil {
		return usageError{err}
	}
	logger := newLogger(cfg, stderr).With("role", role)
	goredis.SetLogger(redis.SlogLogger{Logger: logger})
	tel, err := telemetry.New(ctx, role)
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := tel.Shutdown(ctx); err != nil {
			logger.Warn("could not export the last spans", "error", err)
		}
	}()
	a, err := newApp(cfg, logger, tel)
	if err != nil {
		return err
	}
	defer a.close()
	logger.Info("starting protostar", "http_addr", cfg.HTTPAddr, "embed", cfg.EmbedSpec().Fingerprint(), "generate", a.gen.Model())
	lc := &lifecycle{logger: logger}
	defer lc.stopAll()
	srvErr := make(chan error, 1)
	if err := a.startComponents(ctx, lc, role, srvErr); err != nil {
		if ctx.Err() != nil {
			return nil // interrupted while waiting for a dependency
		}
		return err
	}
	a.started.Store(true)
	select {
	case <-ctx.Done():
		logger.Info("shutting down")
		return nil
	case err := <-srvErr:
		logger.Error("http server failed", "error", err)
		return err
	}
}

// startComponents starts the role's components on lc, in order.
func (a *app) startComponents(ctx context.Context, lc *lifecycle, role string, srvErr chan<- error) error {
	if err := lc.start("debug listener", func() (func(), error) { return startDebug(a.logger, a.cfg.DebugAddr) }); err != nil {
		return err
	}
	runAPI, runWorker := role != "worker", role != "serve"
	var drainAPI func()
	if runAPI {
		if a.cfg.WorkerHTTPAddr != "" {
			a.logger.Warn("PROTOSTAR_WORKER_HTTP_ADDR is ignored: this process serves /healthz, /readyz and /metrics on PROTOSTAR_HTTP_ADDR")
		}
		err := lc.start("http", func() (func(), error) {
			srv, err := a.startHTTP(srvErr)
			if err != nil {
				return nil, err
			}
			drainAPI = sync.OnceFunc(func() { a.shutdownHTTP(srv) })
			return drainAPI, nil
		})
		if err != nil {
			return err
		}
	} else if err := lc.start("worker http", a.startWorkerHTTP); err != nil {
		return err
	}
	if a.cfg.MigrateOnStart {
		if err := migrateOnStart(ctx, a.cfg, a.logger); err != nil {
			return fmt.Errorf("PROTOSTAR_MIGRATE_ON_START: %w", err)
		}
	}
	// Everything below needs Postgres; wait for it with backoff.
	if err := waitForDependency(ctx, a.logger, "postgres", a.cfg.DatabaseWaitTimeout, a.db.Ready); err != nil {
		return err
	}
	if err := lc.start("bucket check", goroutine(ctx, a.ensureBucket)); err != nil {
		return err
	}
	if err := lc.start("outbox", func() (func(), error) { return a.outbox.Stop, a.outbox.Start(ctx) }); err != nil {
		return err
	}
	if err := a.startBucketSync(ctx, lc); err != nil {
		return err
	}
	if a.hooks != nil {
		if err := lc.start("webhooks", func() (func(), error) { return a.hooks.Stop, a.hooks.Start(ctx) }); err != nil {
			return err
		}
	}
	if runWorker {
		if err := lc.start("workers", func() (func(), error) { return a.startWorkers(ctx) }); err != nil {
			return err
		}
	}
	if drainAPI != nil {
		// Stopped first: the API stops taking work before the workers stop.
		return lc.start("api drain", func() (func(), error) { return drainAPI, nil })
	}
	return nil
}

func newApp(cfg config.Config, logger *slog.Logger, tel *telemetry.Telemetry) (*app, error) {
	a := &app{cfg: cfg, logger: logger, reg: prometheus.NewRegistry(), tel: tel, tracer: tel.Provider.Tracer("protostar")}
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var err error
	var pgOpts []postgres.Option
	if tel.Enabled() {
		// Queries are traced without their parameters: they hold tenant
		// data and whole vectors.
		pgOpts = append(pgOpts, postgres.WithTracer(otelpgx.NewTracer(otelpgx.WithTracerProvider(tel.Provider),
			otelpgx.WithTrimSQLInSpanName(), otelpgx.WithDisableQuerySpanNamePrefix())))
	}
	if a.db, err = postgres.Open(logger, cfg.DatabaseURL, cfg.DatabaseMaxConns, pgOpts...); err != nil {
		return nil, err
	}
	if a.redis, err = redis.NewClient(cfg.RedisURL); err != nil {
		a.db.Close()
		return nil, err
	}
	if a.kv, err = newKVClient(cfg, tel, a.redis); err != nil {
		a.close()
		return nil, err
	}
	a.cache = redis.NewCache(logger, a.kv, "protostar:", cfg.CacheTTL)
	a.objects, err = s3.New(logger, s3.Config{Endpoint: cfg.S3Endpoint, AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey,
		Bucket: cfg.S3Bucket, Region: cfg.S3Region, UseTLS: cfg.S3UseTLS, CreateBucket: cfg.S3CreateBucket})
	if err != nil {
		a.close()
		return nil, err
	}
	factory, gen, err := newProviders(cfg, logger, tel, redis.NewRateLimiter(a.kv, "protostar:provider:"), openai.NewMetrics(a.reg))
	if err != nil {
		a.close()
		return nil, err
	}
	a.gen, a.spaces = gen, embedspace.NewRegistry(logger, a.db, factory)
	// The runner times an attempt out itself (and records it as failed);
	// asynq's own deadline is only a backstop behind it.
	a.queue = queue.NewClient(a.redis, cfg.JobMaxAttempts+3, cfg.JobTimeout+time.Minute)
	a.outbox = outbox.New(logger, a.db, a.queue, a.objects, outbox.Config{Interval: cfg.DispatchInterval, StaleAfter: cfg.JobStaleAfter,
		PurgeEvery: cfg.PurgeInterval, FoldEvery: cfg.TermStatsInterval, Tracer: a.tracer})
	a.reg.MustRegister(outbox.NewBacklogCollector(logger, a.db, readinessEvery))
	if a.sealer, err = webhook.NewSealer(cfg.SecretKey); err != nil {
		a.close()
		return nil, fmt.Errorf("PROTOSTAR_SECRET_KEY: %w", err)
	}
	a.guard = webhook.NewGuard(cfg.WebhookAllowHosts)
	if err := a.newBucketSync(); err != nil {
		a.close()
		return nil, err
	}
	if a.sealer != nil {
		a.hooks = webhook.NewDispatcher(logger, a.db, a.sealer, a.guard, webhook.NewMetrics(a.reg), webhook.Config{
			Schedule: cfg.WebhookRetrySchedule, Timeout: cfg.WebhookTimeout, DisableAfter: cfg.WebhookDisableAfter,
			Concurrency: cfg.WebhookConcurrency, Tracer: tel.Provider})
	}
	return a, nil
}

// newKVClient returns the Redis client of the cache and rate limits: with
// tracing on, its own client with a span per command (never the values:
// they hold tenant data), so asynq's polling stays out of traces; else
// the shared one.
func newKVClient(cfg config.Config, tel *telemetry.Telemetry, shared *goredis.Client) (*goredis.Client, error) {
	if !tel.Enabled() {
		return shared, nil
	}
	c, err := redis.NewClient(cfg.RedisURL)
	if err != nil {
		return nil, err
	}
	if err := redisotel.InstrumentTracing(c, redisotel.WithTracerProvider(tel.Provider), redisotel.WithDBStatement(false)); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("trace redis: %w", err)
	}
	return c, nil
}

func (a *app) close() {
	if a.kv != nil && a.kv != a.redis {
		_ = a.kv.Close()
	}
	if a.redis != nil {
		_ = a.redis.Close()
	}
	if a.db != nil {
		a.db.Close()
	}
}

func (a *app) startHTTP(errc chan<- error) (*http.Server, error) {
	tenants, err := a.cfg.Tenants()
	if err != nil {
		return nil, err
	}
	if len(tenants) == 0 {
		a.logger.Warn("PROTOSTAR_API_KEYS is empty: only keys stored in Postgres (protostar keys create) are accepted")
	}
	a.ready = httpapi.NewChecker(append(a.dependencyChecks(), httpapi.Check{Name: "http", Required: true, Local: true,
		Probe: func(context.Context) error {
			if a.draining.Load() {
				return protostar.Errorf(protostar.EUNAVAILABLE, "shutting down")
			}
			if !a.started.Load() {
				// The API listens from the first moment (for /healthz), but
				// answers on a schema not yet migrated, without workers.
				return protostar.Errorf(protostar.EUNAVAILABLE, "starting: migrations or a dependency wait are not done")
			}
			return nil
		}}), readinessEvery)
	a.checkSpaces(context.Background())
	searcher := search.New(a.db, a.spaces, a.searchConfig())
	summaries, answers := a.summaryRequester(), answer.New(searcher, a.gen, a.db, a.cache)
	api := httpapi.New(a.logger, httpapi.Deps{
		Store:      a.db,
		Objects:    a.objects,
		Dispatcher: a.outbox,
		Search:     searcher,
		Summaries:  summaries,
		Answers:    answers,
		Webhooks: httpapi.WebhookDeps{Store: a.db, Sealer: a.sealer, Guard: a.guard,
			PerTenant: a.cfg.WebhooksPerTenant, Overlap: a.cfg.WebhookSecretOverlap},
		Lookup:     a.db,
		Limiter:    redis.NewRateLimiter(a.kv, "protostar:rate:"),
		BucketSync: a.bucketSyncDeps(),
		Accounts:   a.db,
		Spaces:     a.db,
		Registry:   a.reg,
		Tracing:    a.tel,
		Ready:      a.ready,
	}, httpapi.Config{
		Keys: tenants, RateLimit: a.cfg.RateLimit, RateBurst: a.cfg.RateBurst,
		TenantRateLimit: a.cfg.TenantRateLimit, TenantRateBurst: a.cfg.TenantRateBurst,
		MaxUploadBytes: a.cfg.MaxUploadBytes, MaxJSONBytes: a.cfg.MaxJSONBytes,
		JobMaxAttempts: a.cfg.JobMaxAttempts, TenantMaxJobs: a.cfg.TenantMaxJobs,
		MaxStreamsPerTenant: a.cfg.TenantMaxStreams, StreamMaxLifetime: a.cfg.StreamMaxLifetime,
		TenantMaxChunks: a.cfg.TenantMaxChunks, IdleBodyTimeout: a.cfg.IdleBodyTimeout, MaxUploads: a.cfg.MaxUploads, TenantMaxUploads: a.cfg.TenantMaxUploads,
		VectorIndex: a.cfg.VectorIndex,
	})
	a.api = api
	if err := a.mountConsole(api, tenants, console.Deps{Search: searcher, Answers: answers, Summaries: summaries}); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", a.cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("PROTOSTAR_HTTP_ADDR: listen on %s: %w", a.cfg.HTTPAddr, err)
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.draining.Load() {
			w.Header().Set("Connection", "close")
		}
		api.ServeHTTP(w, r)
	})
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(a.logger.Handler(), slog.LevelWarn),
		ConnState: func(_ net.Conn, state http.ConnState) {
			switch state {
			case http.StateNew:
				a.conns.Add(1)
			case http.StateClosed, http.StateHijacked:
				a.conns.Add(-1)
			}
		}}
	_ = a.ready.Start(context.Background())
	a.logger.Info("http listening", "addr", ln.Addr().String())
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	return srv, nil
}

// dependencyChecks probes the dependencies for /readyz: Postgres is
// required, Redis and S3 only degrade the service.
func (a *app) dependencyChecks() []httpapi.Check {
	return []httpapi.Check{
		{Name: "postgres", Required: true, Probe: a.db.Ready},
		{Name: "redis", Probe: func(ctx context.Context) error { return redis.Ping(ctx, a.redis) }},
		{Name: "s3", Probe: a.objects.Ping},
	}
}

// startWorkerHTTP serves /healthz, /readyz and /metrics for a process
// without the API on PROTOSTAR_WORKER_HTTP_ADDR, if set, until the
// returned stop is called. Its /readyz also requires that the workers
// consume the queue.
func (a *app) startWorkerHTTP() (stop func(), err error) {
	if a.cfg.WorkerHTTPAddr == "" {
		return func() {}, nil
	}
	ready := httpapi.NewChecker(append(a.dependencyChecks(), httpapi.Check{Name: "workers", Required: true, Local: true,
		Probe: func(context.Context) error {
			if !a.consuming.Load() {
				return protostar.Errorf(protostar.EUNAVAILABLE, "not consuming the queue (starting or stopping)")
			}
			return nil
		}}), readinessEvery)
	stopServer, err := serveSide(a.logger, "PROTOSTAR_WORKER_HTTP_ADDR", "health and metrics", a.cfg.WorkerHTTPAddr, httpapi.Ops(ready, a.reg))
	if err != nil {
		return nil, err
	}
	_ = ready.Start(context.Background())
	return func() {
		stopServer()
		ready.Stop(context.Background())
	}, nil
}

// shutdownHTTP drains the API (see drainFor), then stops accepting
// connections and lets in-flight requests finish within the shutdown
// timeout.
func (a *app) shutdownHTTP(srv *http.Server) {
	a.draining.Store(true)
	a.api.EndStreams() // event streams would hold the shutdown for its whole timeout
	for deadline := time.Now().Add(min(drainFor, a.cfg.ShutdownTimeout/2)); a.conns.Load() > 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		a.logger.Warn("http shutdown incomplete", "error", err)
		_ = srv.Close()
	}
	a.ready.Stop(ctx)
}

// startWorkers starts one consumer per queue of PROTOSTAR_WORKER_QUEUES,
// each with its own concurrency, so ingest and summary workers can be
// scaled apart (`protostar worker --queues summary`).
// The returned stop stops consuming and waits for the running jobs of every
// queue at once.
func (a *app) startWorkers(ctx context.Context) (stop func(), err error) {
	a.checkSpaces(ctx)
	runner := worker.NewRunner(a.logger, a.db, worker.RunnerConfig{StaleAfter: a.cfg.JobStaleAfter, Timeout: a.cfg.JobTimeout,
		Tracer: a.tracer}, worker.NewMetrics(a.reg))
	queues, err := config.ParseQueues(a.cfg.WorkerQueues)
	if err != nil {
		return nil, err
	}
	var consumers []*queue.Server
	for _, q := range queues {
		handlers := map[string]queue.HandlerFunc{}
		concurrency := a.cfg.WorkerConcurrency
		served := map[string]int{q: 1}
		switch q {
		case queue.QueueIngest:
			served[queue.QueueLegacyIngest] = 1 // what an older API still enqueues during an upgrade
			ing, err := ingest.New(a.logger, a.db, a.objects, a.spaces, runner, ingest.Config{
				MaxTokens: a.cfg.ChunkMaxTokens, OverlapTokens: a.cfg.ChunkOverlapTokens,
				BatchSize: a.cfg.EmbedBatchSize * 4, MaxChunks: a.cfg.MaxChunksPerDoc, Tracer: a.tracer,
			})
			if err != nil {
				stopConsumers(consumers)
				return nil, err
			}
			handlers[protostar.JobIngest] = ing.Handle
			handlers[protostar.JobTenantDelete] = purge.New(a.logger, a.db, a.cache, runner, 0).Handle
			handlers[protostar.JobSync] = a.reconciler(runner).Handle
			handlers[protostar.JobEmbedBackfill] = embedspace.NewBackfill(a.logger, a.db, a.spaces, runner,
				embedspace.BackfillConfig{Rate: a.cfg.BackfillRate, BatchSize: a.cfg.EmbedBatchSize}).Handle
		case queue.QueueSummary:
			handlers[protostar.JobSummary] = a.summaryHandler(runner).Handle
			concurrency = a.cfg.SummaryConcurrency
		}
		c := queue.NewServer(a.logger, a.redis, queue.ServerConfig{
			Concurrency: concurrency, PollInterval: a.cfg.QueuePollInterval,
			Queues: served, ShutdownWait: a.cfg.ShutdownTimeout,
		}, handlers)
		if err := c.Start(ctx); err != nil {
			stopConsumers(consumers)
			return nil, err
		}
		consumers = append(consumers, c)
		a.logger.Info("workers started", "queue", q, "concurrency", concurrency)
	}
	a.consuming.Store(true)
	return func() {
		a.consuming.Store(false)
		stopConsumers(consumers)
	}, nil
}

// checkSpaces warns when PROTOSTAR_EMBED_* differs from the active
// embedding space (see embedspace.Registry.CheckConfig); the process then
// embeds with the space's settings.
func (a *app) checkSpaces(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := a.spaces.CheckConfig(ctx, a.cfg.EmbedSpec()); err != nil {
		a.logger.Warn("could not read the active embedding space", "error", err)
	}
}

// stopConsumers stops every consumer at once, each waiting for its running
// jobs.
func stopConsumers(consumers []*queue.Server) {
	var wg sync.WaitGroup
	for _, c := range consumers {
		wg.Go(c.Stop)
	}
	wg.Wait()
}

// queuesFlag reads `--queues ingest,summary` (worker and all only),
// which overrides PROTOSTAR_WORKER_QUEUES (def).
func queuesFlag(role string, args []string, def string) (string, error) {
	fs := flag.NewFlagSet(role, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	queues := fs.String("queues", def, "queues to consume: ingest, summary or both")
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	if fs.NArg() > 0 {
		return "", fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *queues != def && role == "serve" {
		return "", errors.New("--queues applies to worker and all, not serve")
	}
	if _, err := config.ParseQueues(*queues); err != nil {
		return "", fmt.Errorf("--queues: %w", err)
	}
	return *queues, nil
}

// ensureBucket checks the bucket in the background, retrying while the
// object store is down: ingest degrades, the process does not die.
func (a *app) ensureBucket(ctx context.Context) {
	err := waitForDependency(ctx, a.logger, "s3 bucket", 24*time.Hour, a.objects.EnsureBucket)
	if err != nil && ctx.Err() == nil {
		a.logger.Error("object store bucket unusable", "error", err)
		return
	}
	a.watchBucket(ctx)
}
