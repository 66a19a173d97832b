package postgres

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/protostar/protostar"
)

const documentColumns = `id, tenant_id, key, status, version, indexed_version, content_hash, etag, size,
	chunk_count, metadata, error, created_at, updated_at, indexed_at, index_fingerprint, source`

func scanDocument(row pgx.Row, extra ...any) (protostar.Document, error) {
	var d protostar.Document
	err := row.Scan(append([]any{&d.ID, &d.TenantID, &d.Key, &d.Status, &d.Version, &d.IndexedVersion, &d.ContentHash,
		&d.ETag, &d.Size, &d.ChunkCount, &d.Metadata, &d.Error, &d.CreatedAt, &d.UpdatedAt, &d.IndexedAt, &d.IndexFingerprint,
		&d.Source}, extra...)...)
	return d, err
}

// SubmitDocument records a document version and its ingest job in one
// transaction: once it returns, the work is durable even if the queue is
// down. Posting an existing key creates a new version of the same document.
// It returns ERATELIMITED when the tenant already has MaxActive jobs.
func (db *DB) SubmitDocument(ctx context.Context, s protostar.Submission) (protostar.Document, protostar.Job, error) {
	var (
		doc protostar.Document
		job protostar.Job
	)
	err := db.inTx(ctx, "submit document", func(tx pgx.Tx) error {
		var err error
		doc, job, err = submitTx(ctx, tx, s)
		return err
	})
	return doc, job, err
}

// ReindexDocument creates a new version of an existing document that
// re-reads its object, and the job that does it.
func (db *DB) ReindexDocument(ctx context.Context, tenantID, id string, maxAttempts, maxActive int) (protostar.Document, protostar.Job, error) {
	if !validUUID(id) {
		return protostar.Document{}, protostar.Job{}, documentNotFound(id)
	}
	var (
		doc protostar.Document
		job protostar.Job
	)
	err := db.inTx(ctx, "reindex document", func(tx pgx.Tx) error {
		if err := checkActiveJobs(ctx, tx, tenantID, maxActive); err != nil {
			return err
		}
		var err error
		doc, err = scanDocument(tx.QueryRow(ctx, `
			UPDATE documents SET version = version + 1, status = 'pending', error = '', updated_at = now()
			WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL
			RETURNING `+documentColumns, tenantID, id))
		if err != nil {
			return notFoundAs(err, documentNotFound(id))
		}
		job, err = insertJob(ctx, tx, protostar.Job{
			TenantID: tenantID, Type: protostar.JobIngest, DocumentID: doc.ID, Version: doc.Version,
			Params: jobParams(true, ""), MaxAttempts: maxAttempts,
		})
		return err
	})
	return doc, job, err
}

// Document returns one of the tenant's documents, or ENOTFOUND.
func (db *DB) Document(ctx context.Context, tenantID, id string) (protostar.Document, error) {
	if !validUUID(id) {
		return protostar.Document{}, documentNotFound(id)
	}
	d, err := scanDocument(db.pool.QueryRow(ctx, `SELECT `+documentColumns+` FROM documents
		WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL`, tenantID, id))
	if err != nil {
		return d, notFoundAs(translate(err, "get document"), documentNotFound(id))
	}
	return d, nil
}

// Documents lists the tenant's documents, newest first, with cursor paging.
// The returned cursor is empty on the last page.
func (db *DB) Documents(ctx context.Context, tenantID string, f protostar.DocumentFilter) ([]protostar.Document, string, error) {
	at, id, err := decodeCursor(f.Cursor)
	if err != nil {
		return nil, "", err
	}
	filter := map[string]string{}
	for k, v := range f.Metadata {
		filter[k] = v
	}
	meta, err := json.Marshal(filter)
	if err != nil {
		return nil, "", fmt.Errorf("encode metadata filter: %w", err)
	}
	rows, err := db.pool.Query(ctx, `SELECT `+documentColumns+` FROM documents
		WHERE tenant_id = $1 AND deleted_at IS NULL AND ($2 = '' OR status = $2) AND ($6 = '' OR key = $6)
		  AND ($7 = '' OR starts_with(key, $7)) AND metadata @> $8::jsonb
		  AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4::uuid))
		ORDER BY created_at DESC, id DESC LIMIT $5`, tenantID, f.Status, at, id, f.Limit+1, f.Key, f.KeyPrefix, string(meta))
	if err != nil {
		return nil, "", translate(err, "list documents")
	}
	docs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (protostar.Document, error) { return scanDocument(r) })
	if err != nil {
		return nil, "", translate(err, "list documents")
	}
	docs, next := pageOf(docs, f.Limit, func(d protostar.Document) (time.Time, string) { return d.CreatedAt, d.ID })
	return docs, next, nil
}

// DeleteDocument soft-deletes a document: it leaves search at once, its
// pending jobs are canceled, and its chunks and the objects protostar
// stored for it are purged in the background.
func (db *DB) DeleteDocument(ctx context.Context, tenantID, id string) error {
	if !validUUID(id) {
		return documentNotFound(id)
	}
	return db.inTx(ctx, "delete document", func(tx pgx.Tx) error {
		deleted, err := deleteDocumentTx(ctx, tx, tenantID, id)
		if err == nil && !deleted {
			err = documentNotFound(id)
		}
		return err
	})
}

// retireTermsSQL is a CTE that tells the term statistics that the active
// versions of the deleted documents in the CTE del stopped being
// searchable.
const retireTermsSQL = `retired AS (INSERT INTO term_stat_changes (tenant_id, document_id, added, removed)
	SELECT tenant_id, id, 0, indexed_version FROM del WHERE indexed_version > 0)`

// deleteDocumentTx is DeleteDocument inside tx; it reports false when the
// tenant has no such live document.
func deleteDocumentTx(ctx context.Context, tx pgx.Tx, tenantID, id string) (bool, error) {
	var n int
	err := tx.QueryRow(ctx, `WITH del AS (UPDATE documents SET deleted_at = now(), updated_at = now(), purge_pending = true,
			objects_pending = true WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL
			RETURNING tenant_id, id, indexed_version),
		`+retireTermsSQL+`
		SELECT count(*) FROM del`, tenantID, id).Scan(&n)
	if err != nil || n == 0 {
		return false, err
	}
	if _, err := tx.Exec(ctx, `UPDATE jobs SET status = 'canceled', error = 'document deleted',
		finished_at = now(), updated_at = now()
		WHERE document_id = $1 AND status IN ('queued', 'running')`, id); err != nil {
		return false, err
	}
	if err := emitDocument(ctx, tx, tenantID, protostar.EventDocumentDeleted, id); err != nil {
		return false, err
	}
	return true, bumpCorpus(ctx, tx, tenantID)
}

// CorpusVersion returns a counter that changes whenever the tenant's
// searchable corpus changes.
func (db *DB) CorpusVersion(ctx context.Context, tenantID string) (int64, error) {
	var v int64
	err := db.pool.QueryRow(ctx, `SELECT coalesce((SELECT version FROM corpus_versions WHERE tenant_id = $1), 0)`, tenantID).Scan(&v)
	return v, translate(err, "corpus version")
}

func bumpCorpus(ctx context.Context, tx pgx.Tx, tenantID string) error {
	_, err := tx.Exec(ctx, `INSERT INTO corpus_versions (tenant_id, version) VALUES ($1, 1)
		ON CONFLICT (tenant_id) DO UPDATE SET version = corpus_versions.version + 1`, tenantID)
	return err
}

// checkQuota refuses new work once the tenant's documents hold maxChunks
// chunks (their active versions), before anything is stored or queued.
func checkQuota(ctx context.Context, tx pgx.Tx, tenantID string, maxChunks int) error {
	if maxChunks <= 0 {
		return nil
	}
	var n int64
	if err := tx.QueryRow(ctx, `SELECT coalesce(sum(chunk_count), 0) FROM documents
		WHERE tenant_id = $1 AND deleted_at IS NULL`, tenantID).Scan(&n); err != nil {
		return err
	}
	if n >= int64(maxChunks) {
		return protostar.Errorf(protostar.ETOOLARGE, "tenant's documents hold %d chunks, its storage quota is %d (PROTOSTAR_TENANT_MAX_CHUNKS); delete documents or raise the quota", n, maxChunks)
	}
	return nil
}

func checkActiveJobs(ctx context.Context, tx pgx.Tx, tenantID string, maxActive int) error {
	if maxActive <= 0 {
		return nil
	}
	// Serialise the count-then-insert of one tenant's submissions, so
	// concurrent posts cannot overshoot the cap.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('protostar.active_jobs:' || $1, 0))`, tenantID); err != nil {
		return err
	}
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM jobs
		WHERE tenant_id = $1 AND status IN ('queued', 'running') LIMIT $2) t`, tenantID, maxActive).Scan(&n); err != nil {
		return err
	}
	if n >= maxActive {
		return protostar.Errorf(protostar.ERATELIMITED, "tenant has %d active jobs, the limit is %d; retry when some finish", n, maxActive)
	}
	return nil
}

// jobParams are an ingest job's parameters (see ingest.params).
func jobParams(force bool, staged string) json.RawMessage {
	raw, _ := json.Marshal(struct {
		Force  bool   `json:"force,omitempty"`
		Staged string `json:"staged,omitempty"`
	}{force, staged})
	return raw
}

func documentNotFound(id string) error {
	return protostar.Errorf(protostar.ENOTFOUND, "document %q not found", id)
}

func validUUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}

// notFoundAs replaces a generic not-found error with a specific one.
func notFoundAs(err, specific error) error {
	if protostar.ErrorCode(err) == protostar.ENOTFOUND {
		return specific
	}
	return err
}

// pageOf cuts a listing read with limit+1 rows to limit and returns the
// cursor of the next page ("" on the last), keyed like encodeCursor.
func pageOf[T any](rows []T, limit int, key func(T) (time.Time, string)) ([]T, string) {
	if len(rows) <= limit {
		return rows, ""
	}
	rows = rows[:limit]
	return rows, encodeCursor(key(rows[limit-1]))
}

func encodeCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(at.UTC().Format(time.RFC3339Nano) + "|" + id))
}

func decodeCursor(c string) (*time.Time, string, error) {
	if c == "" {
		return nil, uuid.Nil.String(), nil
	}
	bad := protostar.Errorf(protostar.EINVALID, "cursor is not valid; pass the next_cursor of the previous page")
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, "", bad
	}
	ts, id, ok := strings.Cut(string(raw), "|")
	at, err := time.Parse(time.RFC3339Nano, ts)
	if !ok || err != nil || !validUUID(id) {
		return nil, "", bad
	}
	return &at, id, nil
}

// inTx runs fn in a transaction, committing if it returns nil.
func (db *DB) inTx(ctx context.Context, op string, fn func(pgx.Tx) error) error {
	err := pgx.BeginFunc(ctx, db.pool, fn)
	if err != nil {
		var pe *protostar.Error
		if errors.As(err, &pe) {
			return err
		}
		return translate(err, op)
	}
	return nil
}

// submitTx is SubmitDocument inside tx.
func submitTx(ctx context.Context, tx pgx.Tx, s protostar.Submission) (doc protostar.Document, job protostar.Job, err error) {
	if err := checkActiveJobs(ctx, tx, s.TenantID, s.MaxActive); err != nil {
		return doc, job, err
	}
	if err := checkQuota(ctx, tx, s.TenantID, s.MaxChunks); err != nil {
		return doc, job, err
	}
	meta := s.Metadata
	if meta == nil {
		meta = json.RawMessage(`{}`)
	}
	row := tx.QueryRow(ctx, `
		INSERT INTO documents (id, tenant_id, key, metadata, object_stored, source, object_etag)
		VALUES ($1, $2, $3, $4, $6, $7, $8)
		ON CONFLICT (tenant_id, key) WHERE deleted_at IS NULL DO UPDATE SET
			version = documents.version + 1,
			status = 'pending',
			metadata = CASE WHEN $5 THEN EXCLUDED.metadata ELSE documents.metadata END,
			object_stored = EXCLUDED.object_stored,
			object_etag = EXCLUDED.object_etag,
			error = '',
			updated_at = now()
		RETURNING `+documentColumns,
		uuid.New(), s.TenantID, s.Key, meta, s.Metadata != nil, s.Staged != "", cmp.Or(s.Source, protostar.SourceAPI), s.ObjectETag)
	if doc, err = scanDocument(row); err != nil {
		return doc, job, err
	}
	// New metadata applies to the active version's chunks at once (search
	// filters read it live), so cached answers and searches are stale.
	if s.Metadata != nil && doc.Version > 1 {
		if err := bumpCorpus(ctx, tx, s.TenantID); err != nil {
			return doc, job, err
		}
	}
	job, err = insertJob(ctx, tx, protostar.Job{
		TenantID: s.TenantID, Type: protostar.JobIngest, DocumentID: doc.ID, Version: doc.Version,
		Params: jobParams(s.Force, s.Staged), MaxAttempts: s.MaxAttempts,
	})
	return doc, job, err
}
