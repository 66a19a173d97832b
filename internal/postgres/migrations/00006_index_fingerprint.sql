-- +goose Up
-- What produced a document's active version beyond its bytes: the
-- embedding model and dimensions and the chunking settings. An object whose
-- ETag is unchanged is re-indexed all the same when this differs.
ALTER TABLE documents ADD COLUMN index_fingerprint text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE documents DROP COLUMN index_fingerprint;
