-- +goose Up
-- BM25 keyword ranking needs, per tenant, how many searchable chunks hold
-- each term (document frequency) and how long chunks are on average.
--
-- term_count is a chunk's length in index terms (BM25's len), written by
-- ingest with the row; rows written before this migration get it from
-- their stored terms.
ALTER TABLE chunks ADD COLUMN term_count integer NOT NULL DEFAULT 0;
UPDATE chunks SET term_count = coalesce(array_length(string_to_array(terms, ' '), 1), 0) WHERE terms <> '';

-- term_stats and tenant_term_stats count the chunks of active versions of
-- live documents. Only the fold (FoldTermStats) writes them: ingests and
-- deletions append a row to term_stat_changes in the transaction that
-- makes a version searchable or not, so concurrent ingests of one tenant
-- never wait on a shared row.
CREATE TABLE term_stats (
    tenant_id text   NOT NULL,
    term      text   NOT NULL,
    df        bigint NOT NULL,
    PRIMARY KEY (tenant_id, term)
);
CREATE TABLE tenant_term_stats (
    tenant_id text   PRIMARY KEY,
    chunks    bigint NOT NULL,
    terms     bigint NOT NULL -- sum of term_count
);
-- A change: document_id's version added became searchable (0: none) and
-- its version removed stopped being so (0: none). The purge keeps a
-- document's chunk rows until its changes are folded, since folding reads
-- them.
CREATE TABLE term_stat_changes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   text        NOT NULL,
    document_id uuid        NOT NULL,
    added       integer     NOT NULL,
    removed     integer     NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX term_stat_changes_tenant ON term_stat_changes (tenant_id, id);
CREATE INDEX term_stat_changes_document ON term_stat_changes (document_id);

-- The statistics of what is searchable now.
INSERT INTO term_stats (tenant_id, term, df)
SELECT c.tenant_id, t.term, count(*)
FROM chunks c JOIN documents d ON d.id = c.document_id AND d.deleted_at IS NULL AND c.version = d.indexed_version,
    unnest(tsvector_to_array(c.keywords)) t(term)
GROUP BY c.tenant_id, t.term;
INSERT INTO tenant_term_stats (tenant_id, chunks, terms)
SELECT c.tenant_id, count(*), sum(c.term_count)
FROM chunks c JOIN documents d ON d.id = c.document_id AND d.deleted_at IS NULL AND c.version = d.indexed_version
GROUP BY c.tenant_id;

-- +goose Down
DROP TABLE term_stat_changes;
DROP TABLE tenant_term_stats;
DROP TABLE term_stats;
ALTER TABLE chunks DROP COLUMN term_count;
