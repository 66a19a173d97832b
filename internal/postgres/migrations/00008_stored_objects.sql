-- +goose Up
-- object_stored: protostar itself wrote the document's object, by upload,
-- at its latest submission. A document registered by key (the producer
-- owns the object) has false, and its object is never deleted.
-- objects_pending: the document was deleted and the objects protostar
-- stored for it (its live object if object_stored, and any staged upload
-- copies its jobs name) are still to be removed from the bucket.
-- (Documents deleted before this migration are not revisited.)
ALTER TABLE documents ADD COLUMN object_stored boolean NOT NULL DEFAULT false;
ALTER TABLE documents ADD COLUMN objects_pending boolean NOT NULL DEFAULT false;
CREATE INDEX documents_objects_pending ON documents (id) WHERE objects_pending;

-- +goose Down
DROP INDEX documents_objects_pending;
ALTER TABLE documents DROP COLUMN objects_pending;
ALTER TABLE documents DROP COLUMN object_stored;
