package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/protostar/protostar"
)

// DocumentChunks returns the chunks of the version of a tenant's document
// that search sees, in order, from ordinal after+1, at most limit of them.
func (db *DB) DocumentChunks(ctx context.Context, tenantID, documentID string, after, limit int) ([]protostar.ChunkView, error) {
	if !validUUID(documentID) {
		return nil, documentNotFound(documentID)
	}
	rows, err := db.pool.Query(ctx, `SELECT c.id, c.ordinal, c.heading_path, c.text, c.tokens
		FROM chunks c JOIN documents d ON d.id = c.document_id AND c.version = d.indexed_version
		WHERE d.tenant_id = $1 AND d.id = $2 AND d.deleted_at IS NULL AND c.tenant_id = $1 AND c.ordinal > $3
		ORDER BY c.ordinal LIMIT $4`, tenantID, documentID, after, limit)
	if err != nil {
		return nil, translate(err, "list chunks")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (protostar.ChunkView, error) {
		var c protostar.ChunkView
		err := r.Scan(&c.ID, &c.Ordinal, &c.HeadingPath, &c.Text, &c.Tokens)
		return c, err
	})
	return out, translate(err, "list chunks")
}

// DocumentJobs returns the latest jobs of a tenant's document, newest
// first: its ingest jobs are its versions.
func (db *DB) DocumentJobs(ctx context.Context, tenantID, documentID string, limit int) ([]protostar.Job, error) {
	if !validUUID(documentID) {
		return nil, documentNotFound(documentID)
	}
	rows, err := db.pool.Query(ctx, `SELECT `+jobColumns+` FROM jobs WHERE tenant_id = $1 AND document_id = $2
		ORDER BY created_at DESC, id DESC LIMIT $3`, tenantID, documentID, limit)
	if err != nil {
		return nil, translate(err, "list document jobs")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (protostar.Job, error) { return scanJob(r) })
	return out, translate(err, "list document jobs")
}

// TenantStats counts a tenant's documents and jobs by status, its queued
// and running jobs with the age of the oldest queued one, and the ingest
// jobs that ended in each five minutes of the last hour, in one round trip.
func (db *DB) TenantStats(ctx context.Context, tenantID string) (protostar.TenantStats, error) {
	st := protostar.TenantStats{Documents: map[string]int{}, Jobs: map[string]int{}}
	now := time.Now().Truncate(protostar.IngestBucketWidth)
	start := now.Add(-protostar.IngestBucketWidth * (protostar.IngestBuckets - 1))
	for i := range protostar.IngestBuckets {
		st.Ingests = append(st.Ingests, protostar.IngestBucket{Start: start.Add(time.Duration(i) * protostar.IngestBucketWidth)})
	}
	counts := func(into map[string]int) func(pgx.Rows) error {
		return func(rows pgx.Rows) error {
			var (
				status string
				n      int
			)
			_, err := pgx.ForEachRow(rows, []any{&status, &n}, func() error { into[status] = n; return nil })
			return err
		}
	}
	var oldest float64
	b := &pgx.Batch{}
	b.Queue(`SELECT status, count(*) FROM documents WHERE tenant_id = $1 AND deleted_at IS NULL GROUP BY status`, tenantID).Query(counts(st.Documents))
	b.Queue(`SELECT status, count(*) FROM jobs WHERE tenant_id = $1 GROUP BY status`, tenantID).Query(counts(st.Jobs))
	b.Queue(`SELECT coalesce(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 FROM jobs
		WHERE tenant_id = $1 AND status = 'queued'`, tenantID).QueryRow(func(r pgx.Row) error { return r.Scan(&oldest) })
	b.Queue(`SELECT floor(EXTRACT(EPOCH FROM finished_at - $2::timestamptz) / $3)::int AS bucket, status, count(*)
		FROM jobs WHERE tenant_id = $1 AND type = 'ingest' AND status IN ('succeeded', 'failed') AND finished_at >= $2
		GROUP BY bucket, status`, tenantID, start, protostar.IngestBucketWidth.Seconds()).Query(func(rows pgx.Rows) error {
		var (
			bucket int
			status string
			n      int
		)
		_, err := pgx.ForEachRow(rows, []any{&bucket, &status, &n}, func() error {
			if bucket < 0 || bucket >= len(st.Ingests) {
				return nil
			}
			if status == protostar.JobFailed {
				st.Ingests[bucket].Failed += n
			} else {
				st.Ingests[bucket].Succeeded += n
			}
			return nil
		})
		return err
	})
	if err := db.pool.SendBatch(ctx, b).Close(); err != nil {
		return st, translate(err, "tenant stats")
	}
	st.Queued, st.Running = st.Jobs[protostar.JobQueued], st.Jobs[protostar.JobRunning]
	st.OldestQueued = time.Duration(oldest * float64(time.Second))
	return st, nil
}
