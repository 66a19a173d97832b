-- +goose Up
-- A document summary for one exact content hash, length, model and prompt
-- version: a new document version can never be served an old summary.
CREATE TABLE summaries (
    id             uuid PRIMARY KEY,
    tenant_id      text        NOT NULL,
    document_id    uuid        NOT NULL REFERENCES documents (id),
    version        integer     NOT NULL,
    content_hash   text        NOT NULL,
    length         text        NOT NULL CHECK (length IN ('short', 'medium', 'long')),
    model          text        NOT NULL,
    prompt_version text        NOT NULL,
    summary        text        NOT NULL,
    sections       integer     NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (document_id, content_hash, length, model, prompt_version)
);
CREATE INDEX summaries_latest ON summaries (document_id, created_at DESC);

-- Section (map step) summaries keyed by the section's content hash, so an
-- edit re-summarises only the sections it changed.
CREATE TABLE section_summaries (
    tenant_id      text        NOT NULL,
    section_hash   bytea       NOT NULL,
    length         text        NOT NULL,
    model          text        NOT NULL,
    prompt_version text        NOT NULL,
    summary        text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, section_hash, length, model, prompt_version)
);

-- +goose Down
DROP TABLE section_summaries;
DROP TABLE summaries;
