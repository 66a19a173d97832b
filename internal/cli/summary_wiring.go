package cli

import (
	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/answer"
	"github.com/protostar/protostar/internal/httpapi"
	"github.com/protostar/protostar/internal/queue"
	"github.com/protostar/protostar/internal/redis"
	"github.com/protostar/protostar/internal/search"
	"github.com/protostar/protostar/internal/summary"
	"github.com/protostar/protostar/internal/worker"
)

func (a *app) summaryService(runner *worker.Runner) *summary.Service {
	cache := redis.NewCache(a.logger, a.redis, "protostar:", a.cfg.CacheTTL)
	return summary.New(a.logger, a.db, a.gen, cache, a.outbox, runner, summary.Config{
		MaxAttempts: a.cfg.JobMaxAttempts, MaxActive: a.cfg.TenantMaxJobs,
	})
}

func (a *app) summaries() httpapi.Summaries { return a.summaryService(nil) }

func (a *app) answers() httpapi.Answerer {
	cache := redis.NewCache(a.logger, a.redis, "protostar:", a.cfg.CacheTTL)
	return answer.New(search.New(a.db, a.embed), a.gen, a.db, cache)
}

func (a *app) addSummaryHandler(handlers map[string]queue.HandlerFunc, runner *worker.Runner) {
	handlers[protostar.JobSummary] = a.summaryService(runner).Handle
}
