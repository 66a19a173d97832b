-- +goose Up
-- source: what created the document (api, event, reconcile).
-- object_etag: the object's ETag when the bucket sync submitted the
-- document (empty for the API); a reconciliation compares the bucket with
-- it, or with the indexed etag when it is empty.
ALTER TABLE documents ADD COLUMN source text NOT NULL DEFAULT 'api' CHECK (source IN ('api', 'event', 'reconcile'));
ALTER TABLE documents ADD COLUMN object_etag text NOT NULL DEFAULT '';
-- A reconciliation walks a tenant's documents in the byte order S3 lists
-- keys in.
CREATE INDEX documents_tenant_key_bytes ON documents (tenant_id, key COLLATE "C") WHERE deleted_at IS NULL;

ALTER TABLE jobs DROP CONSTRAINT jobs_type_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_type_check CHECK (type IN ('ingest', 'summary', 'tenant_delete', 'sync'));

-- Bucket notifications as received, before they are applied: the intake
-- answers once they are here, and a leased processor applies them.
-- tenant_id is set when the event is applied ('' until then, or when the
-- key names no tenant).
CREATE TABLE s3_events (
    id            bigserial PRIMARY KEY,
    tenant_id     text        NOT NULL DEFAULT '',
    event_name    text        NOT NULL,
    bucket        text        NOT NULL,
    object_key    text        NOT NULL,
    sequencer     text        NOT NULL DEFAULT '',
    etag          text        NOT NULL DEFAULT '',
    size          bigint      NOT NULL DEFAULT 0,
    received_at   timestamptz NOT NULL DEFAULT now(),
    claimed_until timestamptz,
    attempts      integer     NOT NULL DEFAULT 0,
    last_error    text        NOT NULL DEFAULT '',
    processed_at  timestamptz,
    outcome       text        NOT NULL DEFAULT ''
);
CREATE INDEX s3_events_pending ON s3_events (id) WHERE processed_at IS NULL;
CREATE INDEX s3_events_processed ON s3_events (processed_at) WHERE processed_at IS NOT NULL;

-- The sequencer of the last event applied to each key: an event at or
-- before it is a duplicate or arrived late, and changes nothing.
CREATE TABLE s3_key_sequencers (
    tenant_id  text        NOT NULL,
    key        text        NOT NULL,
    sequencer  text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);

-- +goose Down
DROP TABLE s3_key_sequencers;
DROP TABLE s3_events;
DELETE FROM jobs WHERE type = 'sync';
ALTER TABLE jobs DROP CONSTRAINT jobs_type_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_type_check CHECK (type IN ('ingest', 'summary', 'tenant_delete'));
DROP INDEX documents_tenant_key_bytes;
ALTER TABLE documents DROP COLUMN object_etag;
ALTER TABLE documents DROP COLUMN source;
