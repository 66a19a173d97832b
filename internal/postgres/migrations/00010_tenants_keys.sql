-- +goose Up
-- Tenants created at run time (those named in PROTOSTAR_API_KEYS need no
-- row), and API keys stored as SHA-256 hashes. A key without a tenant is a
-- platform key: it manages tenants and acts for any of them.
CREATE TABLE tenants (
    id         text PRIMARY KEY,
    name       text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    purged_at  timestamptz -- every row, object and cache entry of it is gone
);

CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    tenant_id    text, -- NULL: a platform key
    name         text        NOT NULL DEFAULT '',
    prefix       text        NOT NULL,
    hash         bytea       NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    expires_at   timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at);

-- +goose Down
DROP TABLE api_keys;
DROP TABLE tenants;
