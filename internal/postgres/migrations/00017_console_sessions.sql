-- +goose Up
-- Operator console sessions. The browser holds a random token in an
-- HttpOnly cookie; only its SHA-256 is kept here, with the SHA-256 of the
-- API key it signed in with (checked again on every request), never the
-- key. Sessions live in Postgres so a Redis outage signs nobody out.
CREATE TABLE console_sessions (
    token_hash bytea PRIMARY KEY,
    key_hash   bytea       NOT NULL,
    key_id     uuid, -- a stored key's id; NULL for a PROTOSTAR_API_KEYS key
    key_tenant text        NOT NULL DEFAULT '', -- '' for a platform key
    platform   boolean     NOT NULL DEFAULT false,
    tenant_id  text        NOT NULL DEFAULT '', -- the tenant it acts for
    csrf_token text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);

-- +goose Down
DROP TABLE console_sessions;
