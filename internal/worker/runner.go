// Package worker is the job lifecycle every background worker shares:
// claim the job in Postgres, heart-beat with progress while it runs, and
// record the outcome — success, a retry after a transient failure, or a
// final failure whose error says what was wrong.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/telemetry"
)

// Store is the job bookkeeping the runner needs.
type Store interface {
	// StartJob claims a job; it returns protostar.ErrJobNotClaimable for a
	// finished job or one a live worker holds.
	StartJob(ctx context.Context, id string, staleAfter time.Duration) (protostar.Job, error)
	// Heartbeat, RetryJob and FailJob act only while the given attempt
	// holds the job; Heartbeat returns protostar.ErrJobNotClaimable when
	// it does not any more.
	Heartbeat(ctx context.Context, id string, attempt int, p protostar.Progress) error
	RetryJob(ctx context.Context, id string, attempt int, reason string) error
	FailJob(ctx context.Context, j protostar.Job, reason string) error
}

// Task does a job's work. It records success itself (in the same
// transaction as its results) and returns nil, or returns the error.
type Task func(ctx context.Context, j protostar.Job, p *Progress) error

// Progress is a task's progress, published by the heartbeat.
type Progress struct{ done, total atomic.Int64 }

// Set records done of total units.
func (p *Progress) Set(done, total int) {
	p.done.Store(int64(done))
	p.total.Store(int64(total))
}

func (p *Progress) snapshot() protostar.Progress {
	return protostar.Progress{Done: int(p.done.Load()), Total: int(p.total.Load())}
}

// Runner runs tasks under the job lifecycle.
type Runner struct {
	store      Store
	logger     *slog.Logger
	staleAfter time.Duration
	timeout    time.Duration
	beat       time.Duration
	metrics    *Metrics
	tracer     trace.Tracer
}

// RunnerConfig bounds the runner's attempts.
type RunnerConfig struct {
	// StaleAfter: a job whose heartbeat is older is considered abandoned;
	// heartbeats go out every StaleAfter/4.
	StaleAfter time.Duration
	// Timeout bounds one attempt (PROTOSTAR_JOB_TIMEOUT); an attempt that
	// runs longer fails like any other failed attempt. Zero means none.
	Timeout time.Duration
	// Tracer traces attempts (nil: none). An attempt's span continues the
	// trace of the request that accepted the job.
	Tracer trace.Tracer
}

// errAttemptTimeout is the cause of an attempt's context when it ran out
// of its timeout, as opposed to a worker shutdown.
var errAttemptTimeout = errors.New("attempt timed out")

// NewRunner returns a runner. Every attempt is recorded in metrics, which
// may be nil.
func NewRunner(logger *slog.Logger, store Store, cfg RunnerConfig, metrics *Metrics) *Runner {
	tracer := cfg.Tracer
	if tracer == nil {
		tracer = noop.NewTracerProvider().Tracer("")
	}
	return &Runner{store: store, logger: logger, staleAfter: cfg.StaleAfter, timeout: cfg.Timeout,
		beat: max(cfg.StaleAfter/4, 100*time.Millisecond), metrics: metrics, tracer: tracer}
}

// Run claims job id and runs task. It returns nil when the delivery is
// done with (success, final failure recorded, or nothing to do) and an
// error when the queue should deliver the job again later.
func (r *Runner) Run(ctx context.Context, id string, task Task) error {
	j, err := r.store.StartJob(ctx, id, r.staleAfter)
	switch {
	case errors.Is(err, protostar.ErrJobNotClaimable):
		r.logger.Debug("job not claimable, skipping delivery", "job_id", id, "status", j.Status)
		return nil
	case protostar.ErrorCode(err) == protostar.ENOTFOUND:
		r.logger.Warn("job not found, dropping delivery", "job_id", id)
		return nil
	case err != nil:
		return fmt.Errorf("claim job %s: %w", id, err)
	}
	// The attempt continues the trace of its dispatch (from the task's
	// headers), or of the accepting request, and links to that request.
	ctx, span := r.tracer.Start(telemetry.WithTraceParent(ctx, j.TraceParent), "job "+j.Type,
		trace.WithSpanKind(trace.SpanKindConsumer), trace.WithLinks(telemetry.LinkTo(j.TraceParent)...), trace.WithAttributes(telemetry.KeyJobID.String(j.ID),
			telemetry.KeyJobType.String(j.Type), telemetry.KeyAttempt.Int(j.Attempts), telemetry.KeyTenant.String(j.TenantID),
			telemetry.KeyDocumentID.String(j.DocumentID), telemetry.KeyVersion.Int(j.Version)))
	var taskErr error
	defer func() { telemetry.End(span, taskErr) }()
	log := r.logger.With("job_id", j.ID, "job_type", j.Type, "attempt", j.Attempts)
	log.InfoContext(ctx, "job started")
	start := time.Now()

	var p Progress
	attemptCtx, cancel := r.attemptContext(ctx)
	defer cancel()
	taskErr = r.withHeartbeat(attemptCtx, j, &p, func(ctx context.Context) error { return task(ctx, j, &p) })
	switch {
	case taskErr == nil:
	case errors.Is(context.Cause(attemptCtx), errAttemptTimeout):
		taskErr = protostar.Wrap(protostar.EUNAVAILABLE, errAttemptTimeout,
			"attempt %d ran longer than the job timeout (%s, PROTOSTAR_JOB_TIMEOUT)", j.Attempts, r.timeout)
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		taskErr = protostar.Wrap(protostar.EUNAVAILABLE, errAttemptTimeout,
			"attempt %d ran past its delivery's deadline", j.Attempts)
	}
	outcome := outcomeSucceeded
	defer func() { r.metrics.observe(j.Type, outcome, time.Since(start)) }()
	switch {
	case taskErr == nil:
		log.InfoContext(ctx, "job finished", "duration_ms", time.Since(start).Milliseconds())
		return nil
	case errors.Is(taskErr, protostar.ErrJobNotClaimable):
		// Whoever holds the job now records its outcome; this delivery is
		// done with.
		outcome = outcomeSuperseded
		log.Warn("job no longer held by this attempt (recovered after missed heartbeats, canceled or finished); stopped it",
			"error", taskErr)
		return nil
	}
	outcome, err = r.recordFailure(ctx, log, j, taskErr)
	return err
}

// attemptContext bounds one attempt by the runner's timeout, with
// errAttemptTimeout as the cause, so that a timed-out attempt is told
// apart from a shutdown (which cancels ctx).
func (r *Runner) attemptContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if r.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, r.timeout, errAttemptTimeout)
}

// recordFailure records a failed attempt: a retry, the job's failure, or
// an interruption. It returns the attempt's outcome and the error for the
// queue (nil when the job must not be delivered again).
func (r *Runner) recordFailure(ctx context.Context, log *slog.Logger, j protostar.Job, taskErr error) (string, error) {
	// Bookkeeping must happen even when ctx was canceled by shutdown.
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	// Only the client-safe message reaches job.error (and document.error):
	// an internal error reads "internal error"; its details (driver text,
	// a panic's stack) go to the log below, never to API clients.
	reason := protostar.ErrorMessage(taskErr)
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		// The worker stops: not the job's fault. A deadline is not this
		// case: an attempt that runs out of time has failed.
		log.Info("job interrupted, returning it to the queue", "error", taskErr)
		if err := r.store.RetryJob(bg, j.ID, j.Attempts, "interrupted: worker stopped; will resume"); err != nil {
			log.Warn("could not record interruption", "error", err)
		}
		return outcomeInterrupted, taskErr
	case protostar.IsPermanent(taskErr) || j.Attempts >= j.MaxAttempts:
		if !protostar.IsPermanent(taskErr) {
			reason = fmt.Sprintf("gave up after %d attempts: %s", j.Attempts, reason)
		}
		log.Warn("job failed", "error", taskErr, "permanent", protostar.IsPermanent(taskErr))
		if err := r.store.FailJob(bg, j, reason); err != nil {
			return outcomeFailed, fmt.Errorf("record failure of job %s: %w", j.ID, err)
		}
		return outcomeFailed, nil
	default:
		log.Warn("job attempt failed, will retry", "error", taskErr)
		if err := r.store.RetryJob(bg, j.ID, j.Attempts, fmt.Sprintf("attempt %d of %d failed, retrying: %s", j.Attempts, j.MaxAttempts, reason)); err != nil {
			log.Warn("could not record retry", "error", err)
		}
		return outcomeRetried, taskErr
	}
}

// withHeartbeat runs fn while a goroutine it owns reports progress. When a
// heartbeat finds that the attempt no longer holds the job — the worker
// was presumed dead (paused, starved or cut off for longer than staleAfter)
// and the job recovered — it cancels fn's context with that error, and the
// error returned wraps protostar.ErrJobNotClaimable: two attempts must not
// write the same job's results.
func (r *Runner) withHeartbeat(ctx context.Context, j protostar.Job, p *Progress, fn func(context.Context) error) error {
	taskCtx, cancelTask := context.WithCancelCause(ctx)
	defer cancelTask(nil)
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(r.beat)
		defer t.Stop()
		for {
			select {
			case <-taskCtx.Done():
				return
			case <-t.C:
				err := r.store.Heartbeat(taskCtx, j.ID, j.Attempts, p.snapshot())
				switch {
				case errors.Is(err, protostar.ErrJobNotClaimable):
					cancelTask(err)
					return
				case err != nil && taskCtx.Err() == nil:
					r.logger.Warn("heartbeat failed", "job_id", j.ID, "error", err)
				}
			}
		}
	})
	err := fn(taskCtx)
	cancelTask(nil) // stops the heartbeat; a cause set before stays
	wg.Wait()
	if cause := context.Cause(taskCtx); err != nil && errors.Is(cause, protostar.ErrJobNotClaimable) {
		return fmt.Errorf("%w: %w", cause, err)
	}
	return err
}
