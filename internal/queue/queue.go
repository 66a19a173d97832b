// Package queue carries job ids from the API to the workers over Redis,
// using asynq behind a small interface. Postgres stays the record of every
// job (see internal/postgres); the queue only delivers, so a lost or
// duplicated delivery is harmless: handlers claim jobs in Postgres.
package queue

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	goredis "github.com/redis/go-redis/v9"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/telemetry"
)

// Queue names, one per job type and named after it.
const (
	QueueIngest  = "ingest"
	QueueSummary = "summary"
	// QueueLegacyIngest is what the ingest queue was called before; an
	// ingest consumer drains it too, so that tasks an older API process
	// enqueued during a rolling upgrade still run.
	QueueLegacyIngest = "knowledge"
)

// QueueFor returns the queue a job type runs on.
func QueueFor(jobType string) string {
	if jobType == protostar.JobSummary {
		return QueueSummary
	}
	return QueueIngest
}

type payload struct {
	JobID string `json:"job_id"`
}

// Client enqueues jobs.
type Client struct {
	c        *asynq.Client
	insp     *asynq.Inspector
	maxRetry int
	timeout  time.Duration
}

// NewClient returns a client on an existing go-redis client (which the
// caller owns and closes). maxRetry is asynq's retry budget per delivery;
// timeout bounds one handler run.
func NewClient(rc goredis.UniversalClient, maxRetry int, timeout time.Duration) *Client {
	return &Client{c: asynq.NewClientFromRedisClient(rc), insp: asynq.NewInspectorFromRedisClient(rc), maxRetry: maxRetry, timeout: timeout}
}

// taskID names the queue task of a job's dispatch number n (0-based).
func taskID(jobID string, n int) string { return fmt.Sprintf("%s-%d", jobID, n) }

// Lost reports whether the queue no longer holds the task of j's latest
// dispatch (j as stored: Dispatches counts the dispatches made), or holds
// it archived (out of retries): Redis lost its data (FLUSHALL, a restart
// without AOF, a failover) or gave up on it, and the job must be sent
// again. It returns EUNAVAILABLE when Redis cannot be asked.
func (c *Client) Lost(ctx context.Context, j protostar.Job) (bool, error) {
	if j.Dispatches == 0 {
		return false, nil
	}
	info, err := c.insp.GetTaskInfo(QueueFor(j.Type), taskID(j.ID, j.Dispatches-1))
	switch {
	case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
		return true, nil
	case err != nil:
		return false, &protostar.Error{Code: protostar.EUNAVAILABLE, Message: "queue unavailable", Err: fmt.Errorf("inspect job %s: %w", j.ID, err)}
	}
	return info.State == asynq.TaskStateArchived, nil
}

// Enqueue delivers the job to its queue. The task id includes the job's
// dispatch count, so delivering the same dispatch twice is a no-op while a
// re-dispatch of a lost job gets through.
func (c *Client) Enqueue(ctx context.Context, j protostar.Job) error {
	body, err := json.Marshal(payload{JobID: j.ID})
	if err != nil {
		return fmt.Errorf("encode task payload: %w", err)
	}
	// The task carries the trace context of its dispatch (or of the request
	// that accepted the job, also on the job's row).
	var headers map[string]string
	if tp := cmp.Or(telemetry.TraceParent(ctx), j.TraceParent); tp != "" {
		headers = map[string]string{"traceparent": tp}
	}
	task := asynq.NewTaskWithHeaders(j.Type, body, headers,
		asynq.Queue(QueueFor(j.Type)),
		asynq.TaskID(taskID(j.ID, j.Dispatches)),
		asynq.MaxRetry(c.maxRetry),
		asynq.Timeout(c.timeout),
	)
	_, err = c.c.EnqueueContext(ctx, task)
	switch {
	case err == nil, errors.Is(err, asynq.ErrTaskIDConflict), errors.Is(err, asynq.ErrDuplicateTask):
		return nil
	default:
		return &protostar.Error{Code: protostar.EUNAVAILABLE, Message: "queue unavailable",
			Err: fmt.Errorf("enqueue job %s: %w", j.ID, err)}
	}
}

// HandlerFunc processes one job by id. A nil return ends the delivery; an
// error asks for a retry after a backoff.
type HandlerFunc func(ctx context.Context, jobID string) error

// ServerConfig tunes the consumer.
type ServerConfig struct {
	Concurrency  int
	PollInterval time.Duration // how often idle workers look for tasks
	Queues       map[string]int
	ShutdownWait time.Duration // how long Stop waits for running handlers
}

// Server consumes the queues. Start returns at once; while Redis is down
// the server keeps polling (throttled by the client's dial hook) and picks
// up work when it returns.
type Server struct {
	srv      *asynq.Server
	mux      *asynq.ServeMux
	logger   *slog.Logger
	stopOnce sync.Once
}

// NewServer builds a consumer over rc for the given handlers by job type.
func NewServer(logger *slog.Logger, rc goredis.UniversalClient, cfg ServerConfig, handlers map[string]HandlerFunc) *Server {
	logger = logger.With("component", "queue")
	mux := asynq.NewServeMux()
	for typ, h := range handlers {
		mux.HandleFunc(typ, func(ctx context.Context, t *asynq.Task) error {
			var p payload
			if err := json.Unmarshal(t.Payload(), &p); err != nil || p.JobID == "" {
				logger.Error("dropping malformed task", "type", t.Type(), "error", err)
				return fmt.Errorf("malformed task payload: %w", asynq.SkipRetry)
			}
			return h(telemetry.WithTraceParent(ctx, t.Headers()["traceparent"]), p.JobID)
		})
	}
	srv := asynq.NewServerFromRedisClient(rc, asynq.Config{
		Concurrency:              cfg.Concurrency,
		Queues:                   cfg.Queues,
		TaskCheckInterval:        cfg.PollInterval,
		DelayedTaskCheckInterval: time.Second,
		ShutdownTimeout:          cfg.ShutdownWait,
		RetryDelayFunc:           retryDelay,
		Logger:                   newSlogAdapter(logger, 30*time.Second),
		LogLevel:                 asynq.WarnLevel,
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			if !errors.Is(err, context.Canceled) {
				logger.Debug("task failed, will retry", "type", t.Type(), "error", err)
			}
		}),
	})
	return &Server{srv: srv, mux: mux, logger: logger}
}

// Start begins consuming. It does not need Redis to be up.
func (s *Server) Start(ctx context.Context) error {
	if err := s.srv.Start(s.mux); err != nil {
		return fmt.Errorf("start queue consumer: %w", err)
	}
	return nil
}

// Stop stops taking tasks and waits for running handlers up to the
// configured ShutdownWait; handlers still running are canceled and their
// tasks return to the queue. Safe to call twice.
func (s *Server) Stop() {
	s.stopOnce.Do(s.srv.Shutdown)
}

// retryDelay retries a task whose worker died (lease expired) at once and
// backs off exponentially otherwise, capped at two minutes.
func retryDelay(n int, err error, t *asynq.Task) time.Duration {
	if errors.Is(err, asynq.ErrLeaseExpired) {
		return time.Second
	}
	d := time.Duration(1<<min(n, 7)) * time.Second
	return min(d, 2*time.Minute)
}
