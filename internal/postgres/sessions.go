package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/protostar/protostar"
)

func sessionNotFound() error {
	return protostar.Errorf(protostar.EUNAUTHORIZED, "the console session has ended; sign in again")
}

// CreateSession stores a console session and removes expired ones.
func (db *DB) CreateSession(ctx context.Context, s protostar.ConsoleSession) error {
	return db.inTx(ctx, "create console session", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM console_sessions WHERE expires_at < now()`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO console_sessions (token_hash, key_hash, key_id, key_tenant, platform, tenant_id, csrf_token, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			s.TokenHash, s.KeyHash, nullable(s.KeyID), s.KeyTenant, s.Platform, s.TenantID, s.CSRFToken, s.ExpiresAt)
		return err
	})
}

// Session returns the unexpired console session whose token has the
// SHA-256 tokenHash, or EUNAUTHORIZED.
func (db *DB) Session(ctx context.Context, tokenHash []byte) (protostar.ConsoleSession, error) {
	var (
		s     protostar.ConsoleSession
		keyID *string
	)
	err := db.pool.QueryRow(ctx, `SELECT token_hash, key_hash, key_id::text, key_tenant, platform, tenant_id, csrf_token, created_at, expires_at
		FROM console_sessions WHERE token_hash = $1 AND expires_at > now()`, tokenHash).
		Scan(&s.TokenHash, &s.KeyHash, &keyID, &s.KeyTenant, &s.Platform, &s.TenantID, &s.CSRFToken, &s.CreatedAt, &s.ExpiresAt)
	if keyID != nil {
		s.KeyID = *keyID
	}
	if err != nil {
		return s, notFoundAs(translate(err, "get console session"), sessionNotFound())
	}
	return s, nil
}

// SetSessionTenant switches the tenant a console session acts for.
func (db *DB) SetSessionTenant(ctx context.Context, tokenHash []byte, tenantID string) error {
	tag, err := db.pool.Exec(ctx, `UPDATE console_sessions SET tenant_id = $2 WHERE token_hash = $1 AND expires_at > now()`, tokenHash, tenantID)
	if err != nil {
		return translate(err, "switch console tenant")
	}
	if tag.RowsAffected() == 0 {
		return sessionNotFound()
	}
	return nil
}

// DeleteSession ends a console session; ending one that is gone is no error.
func (db *DB) DeleteSession(ctx context.Context, tokenHash []byte) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM console_sessions WHERE token_hash = $1`, tokenHash)
	return translate(err, "delete console session")
}
