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
)

const tenantColumns = `id, name, created_at, deleted_at, purged_at`

func tenantNotFound(id string) error {
	return protostar.Errorf(protostar.ENOTFOUND, "tenant %q not found", id)
}

func scanTenant(row pgx.Row) (protostar.Tenant, error) {
	var t protostar.Tenant
	err := row.Scan(&t.ID, &t.Name, &t.CreatedAt, &t.DeletedAt, &t.PurgedAt)
	return t, err
}

// CreateTenant creates a tenant; an id in use, even by a deleted tenant,
// is a conflict.
func (db *DB) CreateTenant(ctx context.Context, id, name string) (protostar.Tenant, error) {
	t, err := scanTenant(db.pool.QueryRow(ctx, `INSERT INTO tenants (id, name) VALUES ($1, $2)
		RETURNING `+tenantColumns, id, name))
	if protostar.ErrorCode(translate(err, "")) == protostar.ECONFLICT {
		return t, protostar.Errorf(protostar.ECONFLICT, "tenant %q exists already", id)
	}
	return t, translate(err, "create tenant")
}

// Tenant returns a tenant, deleted or not.
func (db *DB) Tenant(ctx context.Context, id string) (protostar.Tenant, error) {
	t, err := scanTenant(db.pool.QueryRow(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = $1`, id))
	return t, notFoundAs(translate(err, "get tenant"), tenantNotFound(id))
}

// Tenants lists the tenants that are not deleted, by id.
func (db *DB) Tenants(ctx context.Context) ([]protostar.Tenant, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE deleted_at IS NULL ORDER BY id`)
	if err != nil {
		return nil, translate(err, "list tenants")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (protostar.Tenant, error) { return scanTenant(r) })
	return out, translate(err, "list tenants")
}

// DeleteTenant marks a tenant deleted and revokes its keys at once, so it
// can do nothing more, and returns the platform job that removes its data
// (JobTenantDelete). Deleting it again returns that job, or a new one if
// it failed.
func (db *DB) DeleteTenant(ctx context.Context, id string, maxAttempts int) (protostar.Tenant, protostar.Job, error) {
	var (
		t protostar.Tenant
		j protostar.Job
	)
	err := db.inTx(ctx, "delete tenant", func(tx pgx.Tx) error {
		var err error
		t, err = scanTenant(tx.QueryRow(ctx, `UPDATE tenants SET deleted_at = coalesce(deleted_at, now()) WHERE id = $1
			RETURNING `+tenantColumns, id))
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE tenant_id = $1`, id); err != nil {
			return err
		}
		// Its console sessions end with its keys, and platform sessions
		// acting for it choose another tenant.
		if _, err := tx.Exec(ctx, `DELETE FROM console_sessions WHERE key_tenant = $1 OR tenant_id = $1`, id); err != nil {
			return err
		}
		j, err = scanJob(tx.QueryRow(ctx, `SELECT `+jobColumns+` FROM jobs WHERE tenant_id = '' AND type = $1
			AND params->>'tenant' = $2 AND status IN ('queued', 'running', 'succeeded') ORDER BY created_at DESC LIMIT 1`,
			protostar.JobTenantDelete, id))
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		params, _ := json.Marshal(map[string]string{"tenant": id})
		j, err = insertJob(ctx, tx, protostar.Job{Type: protostar.JobTenantDelete, Params: params, MaxAttempts: maxAttempts})
		return err
	})
	return t, j, notFoundAs(err, tenantNotFound(id))
}

// TenantActive reports whether a tenant row exists and is not deleted.
func (db *DB) TenantActive(ctx context.Context, id string) (bool, error) {
	var ok bool
	err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tenants WHERE id = $1 AND deleted_at IS NULL)`, id).Scan(&ok)
	return ok, translate(err, "find tenant")
}

const keyColumns = `id, coalesce(tenant_id, ''), tenant_id IS NULL, name, prefix, created_at, last_used_at, expires_at, revoked_at`

func scanKey(row pgx.Row) (protostar.APIKey, error) {
	var k protostar.APIKey
	err := row.Scan(&k.ID, &k.TenantID, &k.Platform, &k.Name, &k.Prefix, &k.CreatedAt, &k.LastUsedAt, &k.ExpiresAt, &k.RevokedAt)
	return k, err
}

// CreateKey stores a key of tenantID ("" for a platform key) by its hash.
func (db *DB) CreateKey(ctx context.Context, tenantID, name, prefix string, hash []byte, expires *time.Time) (protostar.APIKey, error) {
	var tenant *string
	if tenantID != "" {
		tenant = &tenantID
	}
	k, err := scanKey(db.pool.QueryRow(ctx, `INSERT INTO api_keys (id, tenant_id, name, prefix, hash, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+keyColumns, uuid.New(), tenant, name, prefix, hash, expires))
	return k, translate(err, "create key")
}

// KeyByHash returns the key with this SHA-256, and records its use at most
// once a minute. An unknown hash is ENOTFOUND.
func (db *DB) KeyByHash(ctx context.Context, hash []byte) (protostar.APIKey, error) {
	k, err := scanKey(db.pool.QueryRow(ctx, `WITH k AS (SELECT * FROM api_keys WHERE hash = $1),
		touched AS (UPDATE api_keys a SET last_used_at = now() FROM k
			WHERE a.id = k.id AND k.revoked_at IS NULL AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute'))
		SELECT `+keyColumns+` FROM k`, hash))
	return k, translate(err, "find key")
}

// Keys lists the keys of tenantID ("" for the platform keys), newest first.
func (db *DB) Keys(ctx context.Context, tenantID string) ([]protostar.APIKey, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+keyColumns+` FROM api_keys
		WHERE coalesce(tenant_id, '') = $1 ORDER BY created_at DESC, id DESC`, tenantID)
	if err != nil {
		return nil, translate(err, "list keys")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (protostar.APIKey, error) { return scanKey(r) })
	return out, translate(err, "list keys")
}

// RevokeKey revokes one of tenantID's keys ("" for a platform key); a
// revoked key stays listed with its revocation time.
func (db *DB) RevokeKey(ctx context.Context, tenantID, id string) (protostar.APIKey, error) {
	notFound := protostar.Errorf(protostar.ENOTFOUND, "key %q not found", id)
	if !validUUID(id) {
		return protostar.APIKey{}, notFound
	}
	k, err := scanKey(db.pool.QueryRow(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
		WHERE id = $1 AND coalesce(tenant_id, '') = $2 RETURNING `+keyColumns, id, tenantID))
	if errors.Is(err, pgx.ErrNoRows) {
		return k, notFound
	}
	return k, translate(err, "revoke key")
}

// RetireTenantDocuments deletes a deleted tenant's remaining documents as
// DELETE /v1/documents does, so the purge removes their chunks, summaries
// and the objects protostar stored, cancels its jobs, and returns how many
// of its documents the purge has yet to finish.
func (db *DB) RetireTenantDocuments(ctx context.Context, tenantID string) (left int, err error) {
	err = db.inTx(ctx, "retire tenant documents", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `WITH del AS (UPDATE documents SET deleted_at = now(), updated_at = now(), purge_pending = true,
				objects_pending = true WHERE tenant_id = $1 AND deleted_at IS NULL RETURNING tenant_id, id, indexed_version),
			`+retireTermsSQL+`
			SELECT count(*) FROM del`, tenantID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE jobs SET status = 'canceled', error = 'tenant deleted', finished_at = now(),
			updated_at = now() WHERE tenant_id = $1 AND status IN ('queued', 'running')`, tenantID); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT count(*) FROM documents WHERE tenant_id = $1 AND (purge_pending OR objects_pending)`,
			tenantID).Scan(&left)
	})
	return left, err
}

// tenantTables hold rows of a tenant, in an order the foreign keys allow.
var tenantTables = []string{"tenant_spaces", "term_stat_changes", "term_stats", "tenant_term_stats", "chunks", "summaries", "section_summary_users", "section_summaries", "corpus_versions",
	"webhook_attempts", "webhook_deliveries", "webhook_endpoints", "webhook_events", "s3_events", "s3_key_sequencers",
	"jobs", "documents", "api_keys", "console_sessions"}

// FinishTenantPurge deletes every remaining row of a deleted tenant whose
// documents are purged, marks it purged and ends job j (its
// JobTenantDelete, fenced like every job's result) as succeeded.
func (db *DB) FinishTenantPurge(ctx context.Context, j protostar.Job, tenantID string, res protostar.TenantPurgeResult) error {
	return db.inTx(ctx, "finish tenant purge", func(tx pgx.Tx) error {
		if err := fenceJob(ctx, tx, j); err != nil {
			return err
		}
		var pending bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM documents WHERE tenant_id = $1
			AND (deleted_at IS NULL OR purge_pending OR objects_pending))`, tenantID).Scan(&pending); err != nil {
			return err
		}
		if pending {
			return protostar.Errorf(protostar.EUNAVAILABLE, "tenant %q still has documents to purge", tenantID)
		}
		for _, table := range tenantTables {
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE tenant_id = $1`, tenantID); err != nil {
				return fmt.Errorf("delete the tenant's %s: %w", table, err)
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE tenants SET purged_at = coalesce(purged_at, now()) WHERE id = $1`, tenantID); err != nil {
			return err
		}
		return succeedJob(ctx, tx, j.ID, res, res.Documents)
	})
}
