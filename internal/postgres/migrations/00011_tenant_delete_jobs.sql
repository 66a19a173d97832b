-- +goose Up
-- Deleting a tenant is a platform job (tenant_id '') of type
-- tenant_delete whose params name the tenant.
ALTER TABLE jobs DROP CONSTRAINT jobs_type_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_type_check CHECK (type IN ('ingest', 'summary', 'tenant_delete'));
-- Tenants deleted before this migration, whose data the outbox used to
-- remove, get their job.
INSERT INTO jobs (id, tenant_id, type, params, max_attempts)
SELECT gen_random_uuid(), '', 'tenant_delete', jsonb_build_object('tenant', id), 5
FROM tenants WHERE deleted_at IS NOT NULL AND purged_at IS NULL;

-- +goose Down
DELETE FROM jobs WHERE type = 'tenant_delete';
ALTER TABLE jobs DROP CONSTRAINT jobs_type_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_type_check CHECK (type IN ('ingest', 'summary'));
