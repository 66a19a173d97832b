package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/protostar/protostar"
)

// PendingObjectRemovals returns up to limit deleted documents whose stored
// objects are still to be removed from the bucket.
func (db *DB) PendingObjectRemovals(ctx context.Context, limit int) ([]protostar.ObjectRemoval, error) {
	rows, err := db.pool.Query(ctx, `SELECT d.id, d.tenant_id, d.key, d.object_stored,
			array(SELECT DISTINCT j.params->>'staged' FROM jobs j
				WHERE j.document_id = d.id AND coalesce(j.params->>'staged', '') <> '')
		FROM documents d WHERE d.objects_pending LIMIT $1`, limit)
	if err != nil {
		return nil, translate(err, "find objects to remove")
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (protostar.ObjectRemoval, error) {
		var r protostar.ObjectRemoval
		err := row.Scan(&r.DocumentID, &r.TenantID, &r.Key, &r.Stored, &r.Staged)
		return r, err
	})
	return out, translate(err, "find objects to remove")
}

// ObjectsRemoved records that a deleted document's objects are gone.
func (db *DB) ObjectsRemoved(ctx context.Context, documentID string) error {
	_, err := db.pool.Exec(ctx, `UPDATE documents SET objects_pending = false, object_stored = false
		WHERE id = $1 AND deleted_at IS NOT NULL`, documentID)
	return translate(err, "record removed objects")
}

// WithKeyLock runs fn while it holds the tenant's lock on one document key,
// and tells it whether a live (not deleted) document has that key now.
// Writing an upload to its live key and removing a deleted document's
// object both take it, so a removal never deletes the object of a document
// uploaded again under the same key: either the removal runs first and
// the new upload is written after it, or it sees the live document and
// leaves the object alone.
func (db *DB) WithKeyLock(ctx context.Context, tenantID, key string, fn func(ctx context.Context, live bool) error) error {
	return db.inTx(ctx, "lock document key", func(tx pgx.Tx) error {
		var live bool
		err := tx.QueryRow(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 7)),
			EXISTS (SELECT 1 FROM documents WHERE tenant_id = $1 AND key = $2 AND deleted_at IS NULL)`,
			tenantID, key).Scan(nil, &live)
		if err != nil {
			return fmt.Errorf("lock document key: %w", err)
		}
		return fn(ctx, live)
	})
}
