package cli

import (
	"context"
	"time"

	"github.com/protostar/protostar/internal/bucketsync"
	"github.com/protostar/protostar/internal/httpapi"
	"github.com/protostar/protostar/internal/s3"
	"github.com/protostar/protostar/internal/worker"
)

// bucketSync holds the bucket sync's parts of a process.
type bucketSync struct {
	metrics   *bucketsync.Metrics
	syncer    *bucketsync.Syncer
	processor *bucketsync.Processor // nil without PROTOSTAR_S3_EVENTS_TOKEN
	scheduler *bucketsync.Scheduler // nil when PROTOSTAR_S3_RECONCILE_INTERVAL is 0
}

func (a *app) newBucketSync() error {
	keys, err := a.cfg.Tenants()
	if err != nil {
		return err
	}
	var envTenants []string
	seen := map[string]bool{"*": true} // the platform is no tenant
	for _, t := range keys {
		if !seen[t] {
			seen[t] = true
			envTenants = append(envTenants, t)
		}
	}
	b := &bucketSync{metrics: bucketsync.NewMetrics(a.reg)}
	b.syncer = bucketsync.NewSyncer(a.db, a.objects, a.outbox, bucketsync.Config{
		Bucket: a.cfg.S3Bucket, Suffixes: a.cfg.S3SyncSuffixes, EnvTenants: envTenants, MarkHeader: s3.MarkHeader,
		MaxAttempts: a.cfg.JobMaxAttempts, MaxActive: a.cfg.TenantMaxJobs, MaxChunks: a.cfg.TenantMaxChunks,
	})
	if a.cfg.S3EventsToken != "" {
		b.processor = bucketsync.NewProcessor(a.logger, a.db, b.syncer, b.metrics, 0)
	}
	if a.cfg.S3ReconcileEvery > 0 {
		b.scheduler = bucketsync.NewScheduler(a.logger, a.db, a.outbox, envTenants, a.cfg.S3ReconcileEvery, a.cfg.JobMaxAttempts)
	}
	a.sync = b
	return nil
}

// startBucketSync starts the event processor and the reconciliation
// schedule, those that are on.
func (a *app) startBucketSync(ctx context.Context, lc *lifecycle) error {
	if p := a.sync.processor; p != nil {
		if err := lc.start("bucket events", goroutine(ctx, p.Run)); err != nil {
			return err
		}
	}
	if s := a.sync.scheduler; s != nil {
		return lc.start("reconcile schedule", goroutine(ctx, s.Run))
	}
	return nil
}

// bucketSyncDeps are the API's bucket sync routes' collaborators.
func (a *app) bucketSyncDeps() httpapi.BucketSyncDeps {
	return httpapi.BucketSyncDeps{Events: a.db, Token: a.cfg.S3EventsToken, Received: a.sync.metrics.Received, Jobs: a.db}
}

// reconciler handles sync jobs.
func (a *app) reconciler(runner *worker.Runner) *bucketsync.Reconciler {
	return bucketsync.NewReconciler(a.logger, a.db, a.objects, a.sync.syncer, runner, a.sync.metrics, a.cfg.S3ReconcileRate)
}

// watchBucket points the bucket's notifications at protostar's webhook
// target (PROTOSTAR_S3_WATCH), retrying while the store is down.
func (a *app) watchBucket(ctx context.Context) {
	if !a.cfg.S3Watch {
		return
	}
	watch := func(ctx context.Context) error { return a.objects.Watch(ctx, a.cfg.S3NotifyARN) }
	if err := waitForDependency(ctx, a.logger, "s3 bucket notifications", 24*time.Hour, watch); err != nil && ctx.Err() == nil {
		a.logger.Error("could not set the bucket's notifications (PROTOSTAR_S3_WATCH)", "arn", a.cfg.S3NotifyARN, "error", err)
	}
}
