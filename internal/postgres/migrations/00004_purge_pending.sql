-- +goose Up
-- Documents whose chunk rows include some no reader can see (older
-- versions, abandoned versions, or everything of a deleted document). The
-- purge visits only these, instead of scanning every chunk.
ALTER TABLE documents ADD COLUMN purge_pending boolean NOT NULL DEFAULT false;
CREATE INDEX documents_purge_pending ON documents (id) WHERE purge_pending;

-- +goose Down
DROP INDEX documents_purge_pending;
ALTER TABLE documents DROP COLUMN purge_pending;
