-- +goose Up
-- Keyword search scores a chunk's passage (the chunk and its neighbours in
-- its document, see passage.go) beside the chunk, normalised by the
-- average passage length, which needs how many documents the searchable
-- chunks belong to. documents counts, like chunks and terms, the document
-- versions of the folded changes that have at least one chunk.
ALTER TABLE tenant_term_stats ADD COLUMN documents bigint NOT NULL DEFAULT 0;

-- The statistics reflect the folded changes only: the searchable
-- documents counted now, less what the changes not yet folded will add
-- when they are (+1 for a version added with chunks, -1 for one removed).
UPDATE tenant_term_stats s SET documents =
    (SELECT count(DISTINCT c.document_id) FROM chunks c JOIN documents d ON d.id = c.document_id
        AND d.deleted_at IS NULL AND c.version = d.indexed_version WHERE c.tenant_id = s.tenant_id)
    - (SELECT coalesce(sum(
            (EXISTS (SELECT 1 FROM chunks c WHERE c.document_id = ch.document_id AND c.version = ch.added AND ch.added > 0))::int
            - (EXISTS (SELECT 1 FROM chunks c WHERE c.document_id = ch.document_id AND c.version = ch.removed AND ch.removed > 0))::int), 0)
        FROM term_stat_changes ch WHERE ch.tenant_id = s.tenant_id);

-- +goose Down
ALTER TABLE tenant_term_stats DROP COLUMN documents;
