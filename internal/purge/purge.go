// Package purge runs tenant deletion jobs: it retires a deleted tenant's
// documents, waits while the outbox's purge removes their chunks,
// summaries and stored objects, then drops the tenant's cached values and
// every remaining row, reporting its progress on the job.
package purge

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/worker"
)

// Store is the tenant's data in Postgres.
type Store interface {
	RetireTenantDocuments(ctx context.Context, tenantID string) (left int, err error)
	FinishTenantPurge(ctx context.Context, j protostar.Job, tenantID string, res protostar.TenantPurgeResult) error
}

// Cache holds the tenant's cached answers and summaries.
type Cache interface {
	DeleteTenant(ctx context.Context, tenantID string) (int, error)
}

// Runner claims a job and runs its task with heartbeats.
type Runner interface {
	Run(ctx context.Context, id string, task worker.Task) error
}

// Service handles JobTenantDelete jobs.
type Service struct {
	store  Store
	cache  Cache
	runner Runner
	logger *slog.Logger
	poll   time.Duration
}

// New returns the handler; poll is how often it checks the purge's
// progress (default 1s).
func New(logger *slog.Logger, store Store, cache Cache, runner Runner, poll time.Duration) *Service {
	return &Service{store: store, cache: cache, runner: runner, logger: logger.With("component", "purge"), poll: cmp.Or(poll, time.Second)}
}

// Handle runs one delivery of a tenant deletion job.
func (s *Service) Handle(ctx context.Context, jobID string) error {
	return s.runner.Run(ctx, jobID, s.purge)
}

func (s *Service) purge(ctx context.Context, j protostar.Job, p *worker.Progress) error {
	var params struct{ Tenant string }
	if err := json.Unmarshal(j.Params, &params); err != nil || params.Tenant == "" {
		return protostar.Errorf(protostar.EINVALID, "tenant_delete job %s names no tenant", j.ID)
	}
	total := -1
	for {
		left, err := s.store.RetireTenantDocuments(ctx, params.Tenant)
		if err != nil {
			return fmt.Errorf("retire tenant %s documents: %w", params.Tenant, err)
		}
		if total < 0 {
			total = left
		}
		p.Set(total-left, total)
		if left == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(s.poll):
		}
	}
	n, err := s.cache.DeleteTenant(ctx, params.Tenant)
	if err != nil {
		return fmt.Errorf("delete tenant %s cache: %w", params.Tenant, err)
	}
	if err := s.store.FinishTenantPurge(ctx, j, params.Tenant, protostar.TenantPurgeResult{Documents: total, CacheEntries: n}); err != nil {
		return err
	}
	s.logger.Info("deleted tenant purged", "tenant", params.Tenant, "documents", total, "cache_entries", n)
	return nil
}
