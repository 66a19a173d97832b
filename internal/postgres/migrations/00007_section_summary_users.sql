-- +goose Up
-- Which documents use each cached section summary. Section summaries are
-- shared by the tenant's documents with the same section; when the last
-- document using one is deleted, the purge deletes it too, so a deleted
-- document's text does not outlive it in a derived form. (Summaries cached
-- before this migration have no users and are kept.)
CREATE TABLE section_summary_users (
    tenant_id    text  NOT NULL,
    section_hash bytea NOT NULL,
    document_id  uuid  NOT NULL,
    PRIMARY KEY (tenant_id, section_hash, document_id)
);
CREATE INDEX section_summary_users_document ON section_summary_users (document_id);

-- +goose Down
DROP TABLE section_summary_users;
