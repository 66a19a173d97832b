// Package outbox moves committed jobs from Postgres to the queue. The API
// commits a job and tries to send it at once; whatever could not be sent
// (Redis down) stays in the outbox and a background loop sends it when the
// queue returns. The same loop recovers jobs whose worker died, purges
// chunk rows no reader can see any more, and removes the objects protostar
// stored for deleted documents.
package outbox

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/protostar/protostar"
)

// Store is the durable side of the outbox.
type Store interface {
	DispatchPending(ctx context.Context, limit int, send func(context.Context, protostar.Job) error) (int, error)
	MarkDispatched(ctx context.Context, id string) error
	ReapStale(ctx context.Context, staleAfter, lostAfter time.Duration) (int64, error)
	PurgeStale(ctx context.Context, limit int) (int64, error)
	FoldTermStats(ctx context.Context) (int, error)
	DispatchedQueued(ctx context.Context, olderThan time.Duration, limit int) ([]protostar.Job, error)
	Redispatch(ctx context.Context, id string, dispatches int, reason string) error
	PendingObjectRemovals(ctx context.Context, limit int) ([]protostar.ObjectRemoval, error)
	ObjectsRemoved(ctx context.Context, documentID string) error
	WithKeyLock(ctx context.Context, tenantID, key string, fn func(ctx context.Context, live bool) error) error
}

// Objects is the bucket, from which deleted documents' objects are removed.
type Objects interface {
	Delete(ctx context.Context, key string) error
}

// Queue delivers jobs to workers.
type Queue interface {
	Enqueue(ctx context.Context, j protostar.Job) error
	// Lost reports whether the queue no longer holds the job's latest
	// dispatch (Redis lost it), so it must be sent again.
	Lost(ctx context.Context, j protostar.Job) (bool, error)
}

// Config tunes the loop.
type Config struct {
	Interval   time.Duration // outbox poll interval; default 1s
	StaleAfter time.Duration // a running job without heartbeat this long is abandoned
	LostAfter  time.Duration // a dispatched job nobody started this long is re-sent; default 15m
	BatchSize  int           // jobs per dispatch round; default 500
	PurgeEvery time.Duration // how often stale chunk rows are purged; default 30s
	FoldEvery  time.Duration // how often keyword statistics changes are folded; default 5s
}

// Outbox dispatches jobs.
type Outbox struct {
	store   Store
	queue   Queue
	objects Objects
	cfg     Config
	logger  *slog.Logger

	mu      sync.Mutex
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	healthy bool // last send succeeded; used to log state changes only
}

// New returns an outbox.
func New(logger *slog.Logger, store Store, queue Queue, objects Objects, cfg Config) *Outbox {
	cfg.Interval = cmp.Or(cfg.Interval, time.Second)
	cfg.StaleAfter = cmp.Or(cfg.StaleAfter, 45*time.Second)
	cfg.LostAfter = cmp.Or(cfg.LostAfter, 15*time.Minute)
	cfg.BatchSize = cmp.Or(cfg.BatchSize, 500)
	cfg.PurgeEvery = cmp.Or(cfg.PurgeEvery, 30*time.Second)
	cfg.FoldEvery = cmp.Or(cfg.FoldEvery, 5*time.Second)
	return &Outbox{store: store, queue: queue, objects: objects, cfg: cfg, logger: logger.With("component", "outbox"), healthy: true}
}

// Dispatch sends a committed job to the queue right away. On failure the
// job stays in the outbox for the loop; the caller's answer is unaffected.
func (o *Outbox) Dispatch(ctx context.Context, j protostar.Job) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 500*time.Millisecond)
	defer cancel()
	if err := o.queue.Enqueue(ctx, j); err != nil {
		o.logger.Debug("dispatch deferred to the outbox loop", "job_id", j.ID, "error", err)
		return
	}
	if err := o.store.MarkDispatched(ctx, j.ID); err != nil {
		// Harmless: the loop re-sends it and the queue drops the duplicate.
		o.logger.Debug("could not mark job dispatched", "job_id", j.ID, "error", err)
	}
}

// Start runs the loop until Stop. Calling Start twice is an error-free no-op.
func (o *Outbox) Start(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.cancel != nil {
		return nil
	}
	ctx, o.cancel = context.WithCancel(ctx)
	o.wg.Go(func() { o.loop(ctx) })
	return nil
}

// Stop ends the loop and waits for it. Safe to call twice.
func (o *Outbox) Stop() {
	o.mu.Lock()
	cancel := o.cancel
	o.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	o.wg.Wait()
}

func (o *Outbox) loop(ctx context.Context) {
	tick := time.NewTicker(o.cfg.Interval)
	defer tick.Stop()
	var lastReap, lastPurge, lastFold time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		o.dispatchAll(ctx)
		// Keyword ranking's statistics follow activations and deletions
		// within FoldEvery and a tick (see postgres.FoldTermStats); folding
		// a few seconds of ingest at once counts each term once for all.
		if time.Since(lastFold) >= o.cfg.FoldEvery {
			lastFold = time.Now()
			if _, err := o.store.FoldTermStats(ctx); err != nil {
				o.logErr("fold term statistics", err)
			}
		}
		if time.Since(lastReap) >= o.cfg.StaleAfter/3 {
			lastReap = time.Now()
			if n, err := o.store.ReapStale(ctx, o.cfg.StaleAfter, o.cfg.LostAfter); err != nil {
				o.logErr("reap stale jobs", err)
			} else if n > 0 {
				o.logger.Warn("recovered jobs of dead workers", "jobs", n)
			}
			o.recoverLost(ctx)
		}
		if time.Since(lastPurge) >= o.cfg.PurgeEvery {
			lastPurge = time.Now()
			o.purge(ctx)
		}
	}
}

func (o *Outbox) dispatchAll(ctx context.Context) {
	for ctx.Err() == nil {
		// Only a send says whether the queue is reachable: a round with
		// nothing to send, or one that failed in Postgres, says nothing.
		var sent bool
		var sendErr error
		n, err := o.store.DispatchPending(ctx, o.cfg.BatchSize, func(ctx context.Context, j protostar.Job) error {
			sent = true
			sendErr = o.queue.Enqueue(ctx, j)
			return sendErr
		})
		if sent {
			o.setHealthy(sendErr)
		}
		if err != nil {
			o.logErr("dispatch pending jobs", err)
			return
		}
		if n > 0 {
			o.logger.Debug("dispatched pending jobs", "jobs", n)
		}
		if n < o.cfg.BatchSize {
			return
		}
	}
}

// recoverLost sends again the queued jobs whose task the queue no longer
// holds: Postgres is the record, so work accepted before a Redis data loss
// (FLUSHALL, a restart without AOF, a failover to an empty replica) still
// runs, within a stale window instead of LostAfter.
func (o *Outbox) recoverLost(ctx context.Context) {
	jobs, err := o.store.DispatchedQueued(ctx, o.cfg.StaleAfter, o.cfg.BatchSize)
	if err != nil {
		o.logErr("list dispatched jobs", err)
		return
	}
	lost := 0
	for _, j := range jobs {
		gone, err := o.queue.Lost(ctx, j)
		if err != nil {
			return // Redis is down: nothing can be told, the outbox waits
		}
		if !gone {
			continue
		}
		if err := o.store.Redispatch(ctx, j.ID, j.Dispatches, "the queue lost the job (Redis data loss); sent again"); err != nil {
			o.logErr("redispatch lost job", err)
			return
		}
		lost++
	}
	if lost > 0 {
		o.logger.Warn("the queue had lost jobs; sending them again", "jobs", lost)
		o.dispatchAll(ctx)
	}
}

func (o *Outbox) purge(ctx context.Context) {
	for ctx.Err() == nil {
		n, err := o.store.PurgeStale(ctx, 5000)
		if err != nil {
			o.logErr("purge stale chunks", err)
			return
		}
		if n < 5000 {
			break
		}
	}
	o.removeObjects(ctx)
}

// setHealthy logs transitions of the queue's reachability once each.
func (o *Outbox) setHealthy(err error) {
	queueDown := protostar.ErrorCode(err) == protostar.EUNAVAILABLE
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case queueDown && o.healthy:
		o.logger.Warn("queue unreachable; accepted jobs wait in the outbox", "error", err)
	case err == nil && !o.healthy:
		o.logger.Info("queue reachable again; outbox draining")
	}
	o.healthy = !queueDown
}

func (o *Outbox) logErr(op string, err error) {
	if errors.Is(err, context.Canceled) || protostar.ErrorCode(err) == protostar.EUNAVAILABLE {
		o.logger.Debug(op+" failed", "error", err)
		return
	}
	o.logger.Warn(op+" failed", "error", err)
}
