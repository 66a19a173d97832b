package cli

import (
	"github.com/protostar/protostar/internal/redis"
	"github.com/protostar/protostar/internal/summary"
	"github.com/protostar/protostar/internal/worker"
)

// cache is the Redis cache of summaries and answers.
func (a *app) cache() *redis.Cache {
	return redis.NewCache(a.logger, a.redis, "protostar:", a.cfg.CacheTTL)
}

// summaryRequester is the API side of summaries.
func (a *app) summaryRequester(cache *redis.Cache) *summary.Requester {
	return summary.NewRequester(a.db, a.gen, cache, a.outbox, summary.Config{
		MaxAttempts: a.cfg.JobMaxAttempts, MaxActive: a.cfg.TenantMaxJobs,
	})
}

// summaryHandler is the worker side of summaries.
func (a *app) summaryHandler(runner *worker.Runner) *summary.Handler {
	return summary.NewHandler(a.db, a.gen, a.cache(), runner)
}
