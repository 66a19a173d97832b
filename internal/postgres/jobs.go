package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/telemetry"
)

const jobColumns = `id, tenant_id, type, status, document_id, version, params, progress_done, progress_total,
	attempts, max_attempts, error, result, created_at, dispatched_at, started_at, finished_at, heartbeat_at, dispatch_count, trace_parent`

func scanJob(row pgx.Row) (protostar.Job, error) {
	var (
		j     protostar.Job
		docID *uuid.UUID
		n     int
	)
	err := row.Scan(&j.ID, &j.TenantID, &j.Type, &j.Status, &docID, &j.Version, &j.Params, &j.Progress.Done,
		&j.Progress.Total, &j.Attempts, &j.MaxAttempts, &j.Error, &j.Result, &j.CreatedAt, &j.DispatchedAt,
		&j.StartedAt, &j.FinishedAt, &j.HeartbeatAt, &n, &j.TraceParent)
	if docID != nil {
		j.DocumentID = docID.String()
	}
	j.Dispatches = n
	return j, err
}

func insertJob(ctx context.Context, tx pgx.Tx, j protostar.Job) (protostar.Job, error) {
	docID := nullable(j.DocumentID)
	params := j.Params
	if params == nil {
		params = json.RawMessage(`{}`)
	}
	// The job continues the trace of the request that accepts it.
	return scanJob(tx.QueryRow(ctx, `INSERT INTO jobs (id, tenant_id, type, document_id, version, params, max_attempts, trace_parent)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING `+jobColumns,
		uuid.New(), j.TenantID, j.Type, docID, j.Version, params, j.MaxAttempts, telemetry.TraceParent(ctx)))
}

// CreateJob records a job that is not tied to a document submission (e.g.
// a summary), subject to the tenant's active-job cap. If the tenant already
// has a queued or running job of the same type, document, version and
// params, that job is returned instead: asking twice starts the work once.
func (db *DB) CreateJob(ctx context.Context, j protostar.Job, maxActive int) (protostar.Job, error) {
	var out protostar.Job
	err := db.inTx(ctx, "create job", func(tx pgx.Tx) error {
		// Serialises a tenant's job creations (see checkActiveJobs), so two
		// identical requests cannot both miss each other's job.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('protostar.active_jobs:' || $1, 0))`, j.TenantID); err != nil {
			return err
		}
		params := j.Params
		if params == nil {
			params = json.RawMessage(`{}`)
		}
		var err error
		out, err = scanJob(tx.QueryRow(ctx, `SELECT `+jobColumns+` FROM jobs WHERE tenant_id = $1 AND type = $2
			AND document_id IS NOT DISTINCT FROM $3::uuid AND version = $4 AND params = $5::jsonb AND status IN ('queued', 'running')
			ORDER BY created_at LIMIT 1`, j.TenantID, j.Type, nullable(j.DocumentID), j.Version, params))
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if err := checkActiveJobs(ctx, tx, j.TenantID, maxActive); err != nil {
			return err
		}
		out, err = insertJob(ctx, tx, j)
		return err
	})
	return out, err
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Job returns one of the tenant's jobs, or ENOTFOUND.
func (db *DB) Job(ctx context.Context, tenantID, id string) (protostar.Job, error) {
	if !validUUID(id) {
		return protostar.Job{}, jobNotFound(id)
	}
	j, err := scanJob(db.pool.QueryRow(ctx, `SELECT `+jobColumns+` FROM jobs WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	if err != nil {
		return j, notFoundAs(translate(err, "get job"), jobNotFound(id))
	}
	return j, nil
}

// JobByID returns a job of any tenant; only workers use it.
func (db *DB) JobByID(ctx context.Context, id string) (protostar.Job, error) {
	j, err := scanJob(db.pool.QueryRow(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = $1`, id))
	if err != nil {
		return j, notFoundAs(translate(err, "get job"), jobNotFound(id))
	}
	return j, nil
}

// JobBacklog counts the queued and running jobs of every tenant by type and
// status, with the age of the oldest. The jobs_active partial index limits
// it to unfinished jobs.
func (db *DB) JobBacklog(ctx context.Context) ([]protostar.JobBacklog, error) {
	rows, err := db.pool.Query(ctx, `SELECT type, status, count(*), EXTRACT(EPOCH FROM now() - min(created_at))::float8
		FROM jobs WHERE status IN ('queued', 'running') GROUP BY type, status ORDER BY type, status`)
	if err != nil {
		return nil, translate(err, "job backlog")
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (protostar.JobBacklog, error) {
		var (
			b   protostar.JobBacklog
			age float64
		)
		err := row.Scan(&b.Type, &b.Status, &b.Count, &age)
		b.OldestAge = time.Duration(age * float64(time.Second))
		return b, err
	})
	return out, translate(err, "job backlog")
}

// Jobs lists the tenant's jobs, newest first, with cursor paging.
func (db *DB) Jobs(ctx context.Context, tenantID, status string, limit int, cursor string) ([]protostar.Job, string, error) {
	at, id, err := decodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	rows, err := db.pool.Query(ctx, `SELECT `+jobColumns+` FROM jobs
		WHERE tenant_id = $1 AND ($2 = '' OR status = $2)
		  AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4::uuid))
		ORDER BY created_at DESC, id DESC LIMIT $5`, tenantID, status, at, id, limit+1)
	if err != nil {
		return nil, "", translate(err, "list jobs")
	}
	jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (protostar.Job, error) { return scanJob(r) })
	if err != nil {
		return nil, "", translate(err, "list jobs")
	}
	jobs, next := pageOf(jobs, limit, func(j protostar.Job) (time.Time, string) { return j.CreatedAt, j.ID })
	return jobs, next, nil
}

// DispatchPending hands undispatched queued jobs to send, oldest first, at
// most limit of them, and marks each one send accepted as dispatched. Rows
// are locked with SKIP LOCKED, so several processes can run it at once
// without sending a job twice. It stops at the first send error, which it
// records on the remaining jobs so clients see why they wait.
func (db *DB) DispatchPending(ctx context.Context, limit int, send func(context.Context, protostar.Job) error) (int, error) {
	var (
		sent    int
		sendErr error
	)
	err := db.inTx(ctx, "dispatch pending jobs", func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+jobColumns+` FROM jobs
			WHERE status = 'queued' AND dispatched_at IS NULL
			ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED`, limit)
		if err != nil {
			return err
		}
		jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (protostar.Job, error) { return scanJob(r) })
		if err != nil {
			return err
		}
		for _, j := range jobs {
			if sendErr = send(ctx, j); sendErr != nil {
				break
			}
			if _, err := tx.Exec(ctx, `UPDATE jobs SET dispatched_at = now(), dispatch_count = dispatch_count + 1,
				error = CASE WHEN error LIKE 'waiting for the queue%' THEN '' ELSE error END
				WHERE id = $1`, j.ID); err != nil {
				return err
			}
			sent++
		}
		if sendErr == nil {
			return nil
		}
		// Committed with the jobs that did go out, so clients see why the
		// rest wait.
		_, err = tx.Exec(ctx, `UPDATE jobs SET error = $1 WHERE id = ANY($2)`,
			"waiting for the queue: "+protostar.ErrorMessage(sendErr), jobIDs(jobs[sent:]))
		return err
	})
	if err != nil {
		return sent, err
	}
	return sent, sendErr
}

// DispatchedQueued returns queued jobs handed to the queue more than
// olderThan ago, oldest first, at most limit: the candidates for a check
// that the queue still holds them.
func (db *DB) DispatchedQueued(ctx context.Context, olderThan time.Duration, limit int) ([]protostar.Job, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+jobColumns+` FROM jobs
		WHERE status = 'queued' AND dispatched_at < now() - $1::interval AND updated_at < now() - $1::interval
		ORDER BY dispatched_at LIMIT $2`, olderThan, limit)
	if err != nil {
		return nil, translate(err, "list dispatched queued jobs")
	}
	jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (protostar.Job, error) { return scanJob(r) })
	return jobs, translate(err, "list dispatched queued jobs")
}

// Redispatch returns a queued job to the outbox, to be sent again, unless
// it changed since it was read (dispatches is its dispatch count then).
func (db *DB) Redispatch(ctx context.Context, id string, dispatches int, reason string) error {
	_, err := db.pool.Exec(ctx, `UPDATE jobs SET dispatched_at = NULL, error = $3, updated_at = now()
		WHERE id = $1 AND status = 'queued' AND dispatch_count = $2`, id, dispatches, reason)
	return translate(err, "redispatch job")
}

// MarkDispatched records that a job reached the queue (the API's fast path).
func (db *DB) MarkDispatched(ctx context.Context, id string) error {
	_, err := db.pool.Exec(ctx, `UPDATE jobs SET dispatched_at = now(), dispatch_count = dispatch_count + 1
		WHERE id = $1 AND dispatched_at IS NULL`, id)
	return translate(err, "mark job dispatched")
}

// StartJob claims a job for a worker: queued jobs, or running jobs whose
// worker stopped heart-beating for staleAfter (it died). It counts the
// attempt, and never claims one past max_attempts, whatever the queue
// delivers: a queued job that has used all its attempts (its last one was
// interrupted) fails instead. A finished job, or one a live worker holds,
// gives ErrJobNotClaimable together with the job as it is.
func (db *DB) StartJob(ctx context.Context, id string, staleAfter time.Duration) (protostar.Job, error) {
	j, err := scanJob(db.pool.QueryRow(ctx, `UPDATE jobs SET status = 'running', attempts = attempts + 1,
			started_at = coalesce(started_at, now()), heartbeat_at = now(), updated_at = now()
		WHERE id = $1 AND attempts < max_attempts
		  AND (status = 'queued' OR (status = 'running' AND heartbeat_at < now() - $2::interval))
		RETURNING `+jobColumns, id, staleAfter))
	if err == nil {
		return j, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return j, translate(err, "start job")
	}
	cur, err := db.JobByID(ctx, id)
	if err != nil {
		return cur, err
	}
	if cur.Status == protostar.JobQueued && cur.Attempts >= cur.MaxAttempts {
		reason := fmt.Sprintf("gave up after %d attempts: %s", cur.Attempts, cur.Error)
		if err := db.FailJob(ctx, cur, reason); err != nil {
			return cur, err
		}
		cur.Status, cur.Error = protostar.JobFailed, reason
	}
	return cur, fmt.Errorf("start job %s (status %s): %w", id, cur.Status, protostar.ErrJobNotClaimable)
}

// Heartbeat records that attempt (the job's attempt count when StartJob
// claimed it) is alive, with its progress. It returns ErrJobNotClaimable
// when that attempt no longer holds the job: it was recovered after missing
// heartbeats (and may run elsewhere now), canceled or finished; the attempt
// must stop.
func (db *DB) Heartbeat(ctx context.Context, id string, attempt int, p protostar.Progress) error {
	tag, err := db.pool.Exec(ctx, `UPDATE jobs SET heartbeat_at = now(), progress_done = $3, progress_total = $4,
		updated_at = now() WHERE id = $1 AND status = 'running' AND attempts = $2`, id, attempt, p.Done, p.Total)
	if err != nil {
		return translate(err, "job heartbeat")
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("heartbeat of job %s attempt %d: %w", id, attempt, protostar.ErrJobNotClaimable)
	}
	return nil
}

// RetryJob puts a running job back to queued after a transient failure of
// attempt; the queue holds its retry, so it stays dispatched. It does
// nothing when attempt no longer holds the job, so a worker that was
// presumed dead cannot requeue a job another worker now runs.
func (db *DB) RetryJob(ctx context.Context, id string, attempt int, reason string) error {
	_, err := db.pool.Exec(ctx, `UPDATE jobs SET status = 'queued', error = $3, heartbeat_at = NULL, updated_at = now()
		WHERE id = $1 AND status = 'running' AND attempts = $2`, id, attempt, reason)
	return translate(err, "retry job")
}

// FailJob ends a job as failed after its attempt j.Attempts failed. For an
// ingest job, the document is marked failed too unless a newer version was
// submitted meanwhile. It does nothing when a later attempt holds the job.
func (db *DB) FailJob(ctx context.Context, j protostar.Job, reason string) error {
	return db.inTx(ctx, "fail job", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE jobs SET status = 'failed', error = $2, finished_at = now(), updated_at = now()
			WHERE id = $1 AND status IN ('queued', 'running') AND attempts = $3`, j.ID, reason, j.Attempts)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		if j.Type == protostar.JobIngest {
			// The failed attempt may have written rows of its version: purge them.
			if _, err := tx.Exec(ctx, `UPDATE documents SET purge_pending = true,
					status = CASE WHEN version = $2 AND deleted_at IS NULL THEN 'failed' ELSE status END,
					error = CASE WHEN version = $2 AND deleted_at IS NULL THEN $3 ELSE error END,
					updated_at = CASE WHEN version = $2 AND deleted_at IS NULL THEN now() ELSE updated_at END
				WHERE id = $1`, j.DocumentID, j.Version, reason); err != nil {
				return err
			}
		}
		return emitJobFailed(ctx, tx, j.ID)
	})
}

// succeedJob ends job id as succeeded with its result, done of done units,
// inside the transaction that stored that result (after fenceJob).
func succeedJob(ctx context.Context, tx pgx.Tx, id string, result any, done int) error {
	raw, err := json.Marshal(result)
	if err != nil {
		return fmt.Errorf("encode job result: %w", err)
	}
	_, err = tx.Exec(ctx, `UPDATE jobs SET status = 'succeeded', result = $2, error = '', progress_done = $3,
		progress_total = $3, finished_at = now(), updated_at = now() WHERE id = $1`, id, raw, done)
	return err
}

// CancelJob ends a job as canceled with a reason. A canceled ingest job's
// earlier attempts may have written rows of its version, so its document is
// flagged for the purge, as FailJob does.
func (db *DB) CancelJob(ctx context.Context, id, reason string) error {
	_, err := db.pool.Exec(ctx, `WITH canceled AS (
			UPDATE jobs SET status = 'canceled', error = $2, finished_at = now(), updated_at = now()
			WHERE id = $1 AND status IN ('queued', 'running') RETURNING document_id, type)
		UPDATE documents d SET purge_pending = true FROM canceled c WHERE d.id = c.document_id AND c.type = 'ingest'`, id, reason)
	return translate(err, "cancel job")
}

// ReapStale recovers jobs whose worker died: a running job without a
// heartbeat for staleAfter goes back to the outbox to be dispatched again,
// or fails when it has used all its attempts. A queued job dispatched more
// than lostAfter ago that no worker has started is dispatched again (the
// queue lost it). It returns how many jobs it touched.
func (db *DB) ReapStale(ctx context.Context, staleAfter, lostAfter time.Duration) (int64, error) {
	var total int64
	err := db.inTx(ctx, "reap stale jobs", func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `WITH failed AS (
				UPDATE jobs SET status = 'failed', finished_at = now(), updated_at = now(),
					error = 'worker lost after ' || attempts || ' attempts'
				WHERE status = 'running' AND heartbeat_at < now() - $1::interval AND attempts >= max_attempts
				RETURNING id, document_id, version, error, type),
			docs AS (
				-- As FailJob: the lost attempts may have written rows, so flag
				-- them for the purge; only an ingest job fails its document.
				UPDATE documents d SET purge_pending = true,
					status = CASE WHEN d.version = f.version AND d.deleted_at IS NULL THEN 'failed' ELSE d.status END,
					error = CASE WHEN d.version = f.version AND d.deleted_at IS NULL THEN f.error ELSE d.error END,
					updated_at = now()
				FROM failed f WHERE d.id = f.document_id AND f.type = 'ingest'
				RETURNING 1)
			SELECT id FROM failed`, staleAfter)
		if err != nil {
			return err
		}
		failed, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, id := range failed {
			if err := emitJobFailed(ctx, tx, id); err != nil {
				return err
			}
		}
		tag, err := tx.Exec(ctx, `UPDATE jobs SET status = 'queued', dispatched_at = NULL, heartbeat_at = NULL,
				error = CASE WHEN status = 'running' THEN 'worker lost; rescheduled'
					ELSE 'no worker picked the job up in ' || $2::interval || '; sent to the queue again' END,
				updated_at = now()
			WHERE (status = 'running' AND heartbeat_at < now() - $1::interval)
			   OR (status = 'queued' AND dispatched_at < now() - $2::interval AND updated_at < now() - $2::interval)`,
			staleAfter, lostAfter)
		total = int64(len(failed)) + tag.RowsAffected()
		return err
	})
	return total, err
}

func jobNotFound(id string) error {
	return protostar.Errorf(protostar.ENOTFOUND, "job %q not found", id)
}

func jobIDs(jobs []protostar.Job) []string {
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	return ids
}
