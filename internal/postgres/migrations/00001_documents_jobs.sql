-- +goose Up
CREATE EXTENSION IF NOT EXISTS vector;

-- A document is one Markdown object of a tenant. version counts accepted
-- submissions; indexed_version is the version whose chunks search sees
-- (0 = none yet). Deleting a document is a soft delete, so it leaves search
-- at once; its chunks are purged in the background.
CREATE TABLE documents (
    id              uuid PRIMARY KEY,
    tenant_id       text        NOT NULL,
    key             text        NOT NULL,
    status          text        NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'indexing', 'ready', 'failed')),
    version         integer     NOT NULL DEFAULT 1,
    indexed_version integer     NOT NULL DEFAULT 0,
    content_hash    text        NOT NULL DEFAULT '',
    etag            text        NOT NULL DEFAULT '',
    size            bigint      NOT NULL DEFAULT 0,
    chunk_count     integer     NOT NULL DEFAULT 0,
    metadata        jsonb       NOT NULL DEFAULT '{}',
    error           text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    indexed_at      timestamptz,
    deleted_at      timestamptz
);
CREATE UNIQUE INDEX documents_tenant_key ON documents (tenant_id, key) WHERE deleted_at IS NULL;
CREATE INDEX documents_tenant_page ON documents (tenant_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX documents_metadata ON documents USING gin (metadata jsonb_path_ops);
CREATE INDEX documents_deleted ON documents (deleted_at) WHERE deleted_at IS NOT NULL;

-- Jobs are the durable record of background work and the outbox of the
-- queue: a job with dispatched_at IS NULL has not reached Redis yet.
CREATE TABLE jobs (
    id             uuid PRIMARY KEY,
    tenant_id      text        NOT NULL,
    type           text        NOT NULL CHECK (type IN ('ingest', 'summary')),
    status         text        NOT NULL DEFAULT 'queued'
                   CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
    document_id    uuid        REFERENCES documents (id),
    version        integer     NOT NULL DEFAULT 0,
    params         jsonb       NOT NULL DEFAULT '{}',
    progress_done  integer     NOT NULL DEFAULT 0,
    progress_total integer     NOT NULL DEFAULT 0,
    attempts       integer     NOT NULL DEFAULT 0,
    max_attempts   integer     NOT NULL,
    error          text        NOT NULL DEFAULT '',
    result         jsonb,
    dispatch_count integer     NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    dispatched_at  timestamptz,
    started_at     timestamptz,
    finished_at    timestamptz,
    heartbeat_at   timestamptz
);
CREATE INDEX jobs_outbox ON jobs (created_at) WHERE status = 'queued' AND dispatched_at IS NULL;
CREATE INDEX jobs_active ON jobs (tenant_id, status) WHERE status IN ('queued', 'running');
CREATE INDEX jobs_tenant_page ON jobs (tenant_id, created_at DESC, id DESC);
CREATE INDEX jobs_document ON jobs (document_id, created_at DESC);

-- corpus_versions counts changes to a tenant's searchable corpus; answer
-- cache keys include it, so any change invalidates cached answers.
CREATE TABLE corpus_versions (
    tenant_id text   PRIMARY KEY,
    version   bigint NOT NULL DEFAULT 0
);

-- +goose Down
DROP TABLE corpus_versions;
DROP TABLE jobs;
DROP TABLE documents;
