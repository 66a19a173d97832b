package bucketsync

import (
	"context"
	"log/slog"
	"time"

	"github.com/protostar/protostar"
)

// ScheduleStore creates the periodic sync jobs.
type ScheduleStore interface {
	ScheduleSyncs(ctx context.Context, envTenants []string, every time.Duration, maxAttempts int) ([]protostar.Job, error)
}

// Scheduler gives every tenant a sync job once per interval. Every process
// may run one; a lock in the store lets one of them create the jobs.
type Scheduler struct {
	logger      *slog.Logger
	store       ScheduleStore
	queue       Dispatcher
	envTenants  []string
	every       time.Duration
	maxAttempts int
}

// NewScheduler returns a scheduler of a sync per tenant every interval.
func NewScheduler(logger *slog.Logger, store ScheduleStore, queue Dispatcher, envTenants []string, every time.Duration,
	maxAttempts int) *Scheduler {
	return &Scheduler{logger: logger.With("component", "reconcile schedule"), store: store, queue: queue,
		envTenants: envTenants, every: every, maxAttempts: maxAttempts}
}

// Run schedules until ctx ends, checking every minute (or every interval
// if shorter).
func (s *Scheduler) Run(ctx context.Context) {
	t := time.NewTicker(min(s.every, time.Minute))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		jobs, err := s.store.ScheduleSyncs(ctx, s.envTenants, s.every, s.maxAttempts)
		if err != nil {
			if ctx.Err() == nil {
				s.logger.Debug("could not schedule reconciliations", "error", err)
			}
			continue
		}
		for _, j := range jobs {
			s.queue.Dispatch(ctx, j)
		}
		if len(jobs) > 0 {
			s.logger.Debug("reconciliations scheduled", "tenants", len(jobs))
		}
	}
}
