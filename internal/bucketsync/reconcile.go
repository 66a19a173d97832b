package bucketsync

import (
	"context"
	"fmt"
	"iter"
	"log/slog"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/worker"
)

// ReconcileStore reads a tenant's documents and records a sync's result.
type ReconcileStore interface {
	SyncedDocuments(ctx context.Context, tenantID, after string, limit int) ([]protostar.SyncedDocument, error)
	FinishSync(ctx context.Context, j protostar.Job, res protostar.SyncResult) error
}

// Lister lists the bucket.
type Lister interface {
	List(ctx context.Context, prefix, startAfter string) iter.Seq2[protostar.ObjectInfo, error]
}

// Runner claims a job and runs its task with heartbeats.
type Runner interface {
	Run(ctx context.Context, id string, task worker.Task) error
}

// Reconciler runs sync jobs: it walks a tenant's prefix of the bucket
// (ListObjectsV2, page by page) and its documents side by side, both in
// key order, and applies every difference as an event would: objects
// without a document are ingested, changed ones re-ingested (ETag), and
// documents whose object is gone deleted. Documents being indexed are left
// for the next run. Applying is rate-limited (rate per second).
type Reconciler struct {
	logger  *slog.Logger
	store   ReconcileStore
	objects Lister
	syncer  *Syncer
	runner  Runner
	metrics *Metrics
	rate    float64
}

// NewReconciler returns the handler of JobSync jobs.
func NewReconciler(logger *slog.Logger, store ReconcileStore, objects Lister, syncer *Syncer, runner Runner, metrics *Metrics,
	perSecond float64) *Reconciler {
	return &Reconciler{logger: logger.With("component", "reconcile"), store: store, objects: objects, syncer: syncer,
		runner: runner, metrics: metrics, rate: perSecond}
}

// Handle runs one delivery of a sync job.
func (r *Reconciler) Handle(ctx context.Context, jobID string) error {
	err := r.runner.Run(ctx, jobID, r.run)
	result := "succeeded"
	if err != nil {
		result = "failed"
	}
	r.metrics.runs.WithLabelValues(result).Inc()
	return err
}

const docPage = 500

// pass is one reconciliation's changes, applied at a bounded rate, and
// its counts.
type pass struct {
	r       *Reconciler
	tenant  string
	limiter *rate.Limiter
	res     protostar.SyncResult
}

// apply makes the document of key match its object (or its absence).
func (ps *pass) apply(ctx context.Context, key string) error {
	if err := ps.limiter.Wait(ctx); err != nil {
		return err
	}
	outcome, err := ps.r.syncer.Apply(ctx, ps.tenant, key, "", protostar.SourceReconcile)
	switch protostar.ErrorCode(err) {
	case "":
	case protostar.EINVALID, protostar.ETOOLARGE:
		ps.r.logger.Warn("object not synced", "tenant", ps.tenant, "key", key, "error", err)
		ps.res.Skipped++
		return nil
	default:
		return fmt.Errorf("sync %q: %w", key, err)
	}
	switch outcome {
	case protostar.SyncIngested:
		ps.res.Ingested++
	case protostar.SyncReingested:
		ps.res.Reingested++
	case protostar.SyncDeleted:
		ps.res.Deleted++
	case protostar.SyncInFlight:
		ps.res.Skipped++
	default:
		ps.res.Unchanged++
	}
	if outcome == protostar.SyncIngested || outcome == protostar.SyncReingested || outcome == protostar.SyncDeleted {
		ps.r.metrics.differences.WithLabelValues(outcome).Inc()
	}
	return nil
}

func (r *Reconciler) run(ctx context.Context, j protostar.Job, p *worker.Progress) error {
	started := time.Now()
	ps := &pass{r: r, tenant: j.TenantID, limiter: rate.NewLimiter(rate.Limit(r.rate), max(1, int(r.rate)))}
	res := &ps.res
	apply := func(key string) error { return ps.apply(ctx, key) }
	objects := r.listObjects(ctx, j.TenantID)
	nextObj, stopObj := iter.Pull2(objects)
	defer stopObj()
	docs := &docCursor{ctx: ctx, store: r.store, tenant: j.TenantID, syncer: r.syncer}
	obj, objErr, objOK := nextObj()
	for {
		if objErr != nil {
			return objErr
		}
		doc, docOK, err := docs.peek()
		if err != nil {
			return err
		}
		if !objOK && !docOK {
			break
		}
		switch {
		case docOK && (!objOK || doc.Key < obj.Key): // a document without an object
			docs.next()
			if inFlight(doc) {
				res.Skipped++
			} else if err := apply(doc.Key); err != nil {
				return err
			}
			continue
		case docOK && doc.Key == obj.Key:
			docs.next()
			res.Listed++
			switch {
			case inFlight(doc):
				res.Skipped++
			case doc.ETag == obj.ETag:
				res.Unchanged++
			default:
				if err := apply(obj.Key); err != nil {
					return err
				}
			}
		default: // an object without a document
			res.Listed++
			if err := apply(obj.Key); err != nil {
				return err
			}
		}
		p.Set(res.Listed, 0)
		obj, objErr, objOK = nextObj()
	}
	if err := r.store.FinishSync(ctx, j, *res); err != nil {
		return err
	}
	r.logger.Info("bucket reconciled", "tenant", j.TenantID, "listed", res.Listed, "ingested", res.Ingested,
		"reingested", res.Reingested, "deleted", res.Deleted, "unchanged", res.Unchanged, "skipped", res.Skipped,
		"duration_ms", time.Since(started).Milliseconds())
	return nil
}

// inFlight: a document whose version is still being indexed, which the
// next run compares once it is settled.
func inFlight(d protostar.SyncedDocument) bool {
	return d.Status == protostar.DocumentPending || d.Status == protostar.DocumentIndexing
}

// listObjects lists the tenant's syncable objects, keyed without the
// tenant prefix, in key order.
func (r *Reconciler) listObjects(ctx context.Context, tenant string) iter.Seq2[protostar.ObjectInfo, error] {
	prefix := tenant + "/"
	return func(yield func(protostar.ObjectInfo, error) bool) {
		for oi, err := range r.objects.List(ctx, prefix, "") {
			if err != nil {
				yield(oi, err)
				return
			}
			oi.Key = strings.TrimPrefix(oi.Key, prefix)
			if !r.syncer.Syncable(oi.Key) {
				continue
			}
			if !yield(oi, nil) {
				return
			}
		}
	}
}

// docCursor pages through a tenant's syncable documents in key order.
type docCursor struct {
	ctx    context.Context
	store  ReconcileStore
	tenant string
	syncer *Syncer
	page   []protostar.SyncedDocument
	after  string
	done   bool
}

func (c *docCursor) peek() (protostar.SyncedDocument, bool, error) {
	for len(c.page) == 0 && !c.done {
		page, err := c.store.SyncedDocuments(c.ctx, c.tenant, c.after, docPage)
		if err != nil {
			return protostar.SyncedDocument{}, false, err
		}
		c.done = len(page) < docPage
		if len(page) > 0 {
			c.after = page[len(page)-1].Key
		}
		for _, d := range page {
			if c.syncer.Syncable(d.Key) {
				c.page = append(c.page, d)
			}
		}
	}
	if len(c.page) == 0 {
		return protostar.SyncedDocument{}, false, nil
	}
	return c.page[0], true, nil
}

func (c *docCursor) next() { c.page = c.page[1:] }
