-- +goose NO TRANSACTION
-- +goose Up
-- A backfill reuses the vector a space already has for an equal chunk of
-- the same tenant (same embedded text, same content hash).
CREATE INDEX CONCURRENTLY IF NOT EXISTS chunks_tenant_hash ON chunks (tenant_id, content_hash);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS chunks_tenant_hash;
