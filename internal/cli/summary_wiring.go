package cli

import (
	"github.com/protostar/protostar/internal/summary"
	"github.com/protostar/protostar/internal/worker"
)

// summaryRequester is the API side of summaries.
func (a *app) summaryRequester() *summary.Requester {
	return summary.NewRequester(a.db, a.gen, a.cache, a.outbox, summary.Config{
		MaxAttempts: a.cfg.JobMaxAttempts, MaxActive: a.cfg.TenantMaxJobs,
	})
}

// summaryHandler is the worker side of summaries.
func (a *app) summaryHandler(runner *worker.Runner) *summary.Handler {
	return summary.NewHandler(a.db, a.gen, a.cache, runner, a.tracer)
}
