-- +goose Up
-- 00004 flagged documents from then on; documents that may already hold
-- rows no reader can see (any with more than one version, and deleted
-- ones) are flagged here, so the purge visits them once.
UPDATE documents SET purge_pending = true WHERE deleted_at IS NOT NULL OR version > 1;

-- +goose Down
SELECT 1;
