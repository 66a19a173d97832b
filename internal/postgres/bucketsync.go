package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/protostar/protostar"
)

// SyncObject brings the tenant's document of one key in step with its
// object, which stat reads (a HEAD). It holds the key's lock (the one
// WithKeyLock takes, so it never races an upload's promotion or the
// removal of a deleted document's object) while it reads the object, so
// what it applies is the object's state at that moment, whatever the event
// said. An event (s.Sequencer set) at or before the last one applied to the
// key changes nothing (SyncStale). It returns the outcome and, when it
// submitted a version, the ingest job to dispatch.
func (db *DB) SyncObject(ctx context.Context, s protostar.ObjectSync,
	stat func(context.Context) (protostar.ObjectState, error)) (outcome string, job protostar.Job, err error) {
	err = db.inTx(ctx, "sync object", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 7))`, s.TenantID, s.Key); err != nil {
			return err
		}
		if s.Sequencer != "" {
			var last string
			err := tx.QueryRow(ctx, `SELECT sequencer FROM s3_key_sequencers WHERE tenant_id = $1 AND key = $2`,
				s.TenantID, s.Key).Scan(&last)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			if !protostar.SequencerAfter(s.Sequencer, last) {
				outcome = protostar.SyncStale
				return nil
			}
			if _, err := tx.Exec(ctx, `INSERT INTO s3_key_sequencers (tenant_id, key, sequencer) VALUES ($1, $2, $3)
				ON CONFLICT (tenant_id, key) DO UPDATE SET sequencer = EXCLUDED.sequencer, updated_at = now()`,
				s.TenantID, s.Key, s.Sequencer); err != nil {
				return err
			}
		}
		obj, err := stat(ctx)
		if err != nil {
			return err
		}
		outcome, job, err = applyObjectState(ctx, tx, s, obj)
		return err
	})
	return outcome, job, err
}

// applyObjectState makes the key's document match obj, in tx.
func applyObjectState(ctx context.Context, tx pgx.Tx, s protostar.ObjectSync, obj protostar.ObjectState) (string, protostar.Job, error) {
	var (
		id, objectETag string
		version        int
		uploading      bool
		sameMeta       bool
	)
	var meta []byte
	if obj.Metadata != nil {
		meta, _ = json.Marshal(obj.Metadata)
	}
	err := tx.QueryRow(ctx, `SELECT d.id, d.version, coalesce(nullif(d.object_etag, ''), d.etag),
			$3::jsonb IS NULL OR d.metadata = $3::jsonb,
			EXISTS (SELECT 1 FROM jobs j WHERE j.document_id = d.id AND j.status IN ('queued', 'running')
				AND coalesce(j.params->>'staged', '') <> '')
		FROM documents d WHERE d.tenant_id = $1 AND d.key = $2 AND d.deleted_at IS NULL FOR UPDATE`,
		s.TenantID, s.Key, meta).Scan(&id, &version, &objectETag, &sameMeta, &uploading)
	found := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", protostar.Job{}, err
	}
	switch {
	case !obj.Exists && !found:
		return protostar.SyncAbsent, protostar.Job{}, nil
	case found && uploading:
		// An accepted upload is being promoted to the key (its job reads
		// the staged copy): the object's state says nothing yet.
		return protostar.SyncInFlight, protostar.Job{}, nil
	case !obj.Exists:
		_, err := deleteDocumentTx(ctx, tx, s.TenantID, id)
		return protostar.SyncDeleted, protostar.Job{}, err
	case found && obj.WrittenBy != "" && ownWrite(obj.WrittenBy, id, version):
		// Remember its ETag, so a reconciliation finds it unchanged.
		_, err := tx.Exec(ctx, `UPDATE documents SET object_etag = $2 WHERE id = $1`, id, obj.ETag)
		return protostar.SyncOwnWrite, protostar.Job{}, err
	case found && obj.ETag == objectETag && sameMeta:
		return protostar.SyncUnchanged, protostar.Job{}, nil
	}
	_, job, err := submitTx(ctx, tx, protostar.Submission{TenantID: s.TenantID, Key: s.Key, Metadata: meta,
		Source: s.Source, ObjectETag: obj.ETag, MaxAttempts: s.MaxAttempts, MaxActive: s.MaxActive, MaxChunks: s.MaxChunks})
	if err != nil {
		return "", protostar.Job{}, err
	}
	if found {
		return protostar.SyncReingested, job, nil
	}
	return protostar.SyncIngested, job, nil
}

// ownWrite reports whether the mark "<id>:<version>" protostar left on an
// object names document id at a version it already has.
func ownWrite(mark, id string, version int) bool {
	i := strings.LastIndexByte(mark, ':')
	if i < 0 || mark[:i] != id {
		return false
	}
	v, err := strconv.Atoi(mark[i+1:])
	return err == nil && v <= version
}

// SaveObjectEvents stores bucket notifications as received, in one
// statement: once it returns they are applied eventually.
func (db *DB) SaveObjectEvents(ctx context.Context, evs []protostar.ObjectEvent) error {
	if len(evs) == 0 {
		return nil
	}
	cols := make([][]any, 6)
	for _, e := range evs {
		for i, v := range []any{e.Name, e.Bucket, e.Key, e.Sequencer, e.ETag, e.Size} {
			cols[i] = append(cols[i], v)
		}
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO s3_events (event_name, bucket, object_key, sequencer, etag, size)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[])`,
		cols[0], cols[1], cols[2], cols[3], cols[4], cols[5])
	return translate(err, "save bucket events")
}

// ClaimObjectEvents leases up to limit unapplied events, oldest first, for
// lease: another process takes them over only once the lease ran out.
func (db *DB) ClaimObjectEvents(ctx context.Context, limit int, lease time.Duration) ([]protostar.ObjectEvent, error) {
	rows, err := db.pool.Query(ctx, `UPDATE s3_events e SET claimed_until = now() + $2::interval, attempts = e.attempts + 1
		FROM (SELECT id FROM s3_events WHERE processed_at IS NULL AND (claimed_until IS NULL OR claimed_until < now())
			ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) c
		WHERE e.id = c.id
		RETURNING e.id, e.event_name, e.bucket, e.object_key, e.sequencer, e.etag, e.size, e.attempts`, limit, lease)
	if err != nil {
		return nil, translate(err, "claim bucket events")
	}
	evs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (protostar.ObjectEvent, error) {
		var e protostar.ObjectEvent
		err := r.Scan(&e.ID, &e.Name, &e.Bucket, &e.Key, &e.Sequencer, &e.ETag, &e.Size, &e.Attempts)
		return e, err
	})
	if err != nil {
		return nil, translate(err, "claim bucket events")
	}
	// The statement returns rows in no particular order; apply them in the
	// order they arrived.
	slices.SortFunc(evs, func(a, b protostar.ObjectEvent) int { return cmp.Compare(a.ID, b.ID) })
	return evs, nil
}

// ObjectEventApplied records how an event was applied, and for which
// tenant (” when it named none).
func (db *DB) ObjectEventApplied(ctx context.Context, id int64, tenantID, outcome string) error {
	_, err := db.pool.Exec(ctx, `UPDATE s3_events SET processed_at = now(), tenant_id = $2, outcome = $3, last_error = ''
		WHERE id = $1`, id, tenantID, outcome)
	return translate(err, "record bucket event")
}

// ObjectEventRetry leaves an event unapplied for another try after wait.
func (db *DB) ObjectEventRetry(ctx context.Context, id int64, wait time.Duration, reason string) error {
	_, err := db.pool.Exec(ctx, `UPDATE s3_events SET claimed_until = now() + $2::interval, last_error = $3 WHERE id = $1`,
		id, wait, reason)
	return translate(err, "postpone bucket event")
}

// PruneObjectEvents deletes events applied more than olderThan ago.
func (db *DB) PruneObjectEvents(ctx context.Context, olderThan time.Duration) (int64, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM s3_events WHERE processed_at < now() - $1::interval`, olderThan)
	return tag.RowsAffected(), translate(err, "prune bucket events")
}

// SyncedDocuments returns up to limit of the tenant's live documents with
// keys after after, in byte order (the order S3 lists keys in).
func (db *DB) SyncedDocuments(ctx context.Context, tenantID, after string, limit int) ([]protostar.SyncedDocument, error) {
	rows, err := db.pool.Query(ctx, `SELECT key, status, coalesce(nullif(object_etag, ''), etag), size FROM documents
		WHERE tenant_id = $1 AND deleted_at IS NULL AND key COLLATE "C" > $2
		ORDER BY key COLLATE "C" LIMIT $3`, tenantID, after, limit)
	if err != nil {
		return nil, translate(err, "list documents to sync")
	}
	docs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (protostar.SyncedDocument, error) {
		var d protostar.SyncedDocument
		err := r.Scan(&d.Key, &d.Status, &d.ETag, &d.Size)
		return d, err
	})
	return docs, translate(err, "list documents to sync")
}

// FinishSync ends sync job j (fenced) as succeeded with its counts.
func (db *DB) FinishSync(ctx context.Context, j protostar.Job, res protostar.SyncResult) error {
	return db.inTx(ctx, "finish sync", func(tx pgx.Tx) error {
		if err := fenceJob(ctx, tx, j); err != nil {
			return err
		}
		return succeedJob(ctx, tx, j.ID, res, res.Listed)
	})
}

// ScheduleSyncs creates a sync job for every live tenant (those with a row,
// and envTenants) that has had none created within every, and returns them
// to dispatch. One process does it at a time; the others return nothing.
func (db *DB) ScheduleSyncs(ctx context.Context, envTenants []string, every time.Duration, maxAttempts int) ([]protostar.Job, error) {
	var jobs []protostar.Job
	err := db.inTx(ctx, "schedule syncs", func(tx pgx.Tx) error {
		var leader bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(hashtextextended('protostar.sync_schedule', 0))`).Scan(&leader); err != nil || !leader {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT t FROM (SELECT id AS t FROM tenants WHERE deleted_at IS NULL
				UNION SELECT unnest($1::text[]) EXCEPT SELECT id FROM tenants WHERE deleted_at IS NOT NULL) ts
			WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE tenant_id = ts.t AND type = 'sync'
				AND (status IN ('queued', 'running') OR created_at > now() - $2::interval))`, envTenants, every)
		if err != nil {
			return err
		}
		tenants, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, t := range tenants {
			j, err := insertJob(ctx, tx, protostar.Job{TenantID: t, Type: protostar.JobSync, MaxAttempts: maxAttempts})
			if err != nil {
				return err
			}
			jobs = append(jobs, j)
		}
		return nil
	})
	return jobs, err
}
