package bucketsync

import (
	"context"
	"log/slog"
	"time"

	"github.com/protostar/protostar"
)

// EventStore holds the received notifications.
type EventStore interface {
	ClaimObjectEvents(ctx context.Context, limit int, lease time.Duration) ([]protostar.ObjectEvent, error)
	ObjectEventApplied(ctx context.Context, id int64, tenantID, outcome string) error
	ObjectEventRetry(ctx context.Context, id int64, wait time.Duration, reason string) error
	PruneObjectEvents(ctx context.Context, olderThan time.Duration) (int64, error)
}

const (
	claimBatch = 50
	claimLease = 2 * time.Minute
	keepEvents = 24 * time.Hour // applied events are kept this long, for inspection
)

// Processor applies stored notifications in the order they arrived. Every
// process may run one: events are leased, and the per-key lock and
// sequencer make applying one twice harmless.
type Processor struct {
	logger  *slog.Logger
	store   EventStore
	syncer  *Syncer
	metrics *Metrics
	poll    time.Duration
}

// NewProcessor returns a processor that looks for new events every poll
// (default 500ms).
func NewProcessor(logger *slog.Logger, store EventStore, syncer *Syncer, metrics *Metrics, poll time.Duration) *Processor {
	if poll <= 0 {
		poll = 500 * time.Millisecond
	}
	return &Processor{logger: logger.With("component", "bucket events"), store: store, syncer: syncer, metrics: metrics, poll: poll}
}

// Run applies events until ctx ends; the event being applied when it does
// is left to its lease.
func (p *Processor) Run(ctx context.Context) {
	prune := time.Now()
	for {
		n := p.round(ctx)
		if time.Since(prune) > time.Hour {
			prune = time.Now()
			if _, err := p.store.PruneObjectEvents(ctx, keepEvents); err != nil {
				p.logger.Debug("could not prune applied bucket events", "error", err)
			}
		}
		if n == claimBatch {
			continue // more are waiting
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(p.poll):
		}
	}
}

// round applies one batch and returns its size.
func (p *Processor) round(ctx context.Context) int {
	evs, err := p.store.ClaimObjectEvents(ctx, claimBatch, claimLease)
	if err != nil {
		if ctx.Err() == nil {
			p.logger.Debug("could not claim bucket events", "error", err)
		}
		return 0
	}
	for _, e := range evs {
		if ctx.Err() != nil {
			return 0 // the lease runs out and another process takes them
		}
		p.apply(ctx, e)
	}
	return len(evs)
}

func (p *Processor) apply(ctx context.Context, e protostar.ObjectEvent) {
	log := p.logger.With("event_id", e.ID, "event", e.Name, "key", e.Key)
	tenant, outcome, err := p.decide(ctx, e)
	if err != nil {
		switch protostar.ErrorCode(err) {
		case protostar.EINVALID, protostar.ETOOLARGE:
			// The object can't be a document as it is (bad metadata, the
			// tenant's quota): applying it again would fail the same way.
			outcome = "refused"
			log.Warn("bucket event refused", "tenant", tenant, "error", err)
		default:
			wait := min(time.Duration(1<<min(e.Attempts, 8))*time.Second, 5*time.Minute)
			log.Debug("bucket event postponed", "error", err, "retry_in", wait)
			if err := p.store.ObjectEventRetry(context.WithoutCancel(ctx), e.ID, wait, protostar.ErrorMessage(err)); err != nil {
				log.Debug("could not postpone bucket event", "error", err)
			}
			return
		}
	}
	if err := p.store.ObjectEventApplied(context.WithoutCancel(ctx), e.ID, tenant, outcome); err != nil {
		log.Debug("could not record applied bucket event; it will be applied again", "error", err)
		return
	}
	p.metrics.events.WithLabelValues(outcome).Inc()
	log.Debug("bucket event applied", "tenant", tenant, "outcome", outcome)
}

// decide applies e and returns its tenant and outcome.
func (p *Processor) decide(ctx context.Context, e protostar.ObjectEvent) (tenant, outcome string, err error) {
	if e.Bucket != p.syncer.cfg.Bucket || (!e.Created() && !e.Removed()) {
		return "", protostar.SyncIgnored, nil
	}
	tenant, key, why, err := p.syncer.Resolve(ctx, e.Key)
	if err != nil || tenant == "" {
		if why != "" {
			p.logger.Debug("bucket event ignored", "key", e.Key, "reason", why)
		}
		return "", protostar.SyncIgnored, err
	}
	outcome, err = p.syncer.Apply(ctx, tenant, key, e.Sequencer, protostar.SourceEvent)
	return tenant, outcome, err
}
