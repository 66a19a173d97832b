-- +goose Up
-- The element type of each embedding space's HNSW index: vector, or
-- halfvec (half-precision, about half the size). Existing spaces keep the
-- index they have: halfvec above 2000 dimensions, and for a first space
-- that migration 00020 built from PROTOSTAR_VECTOR_INDEX=halfvec.
ALTER TABLE embedding_spaces ADD COLUMN index_type text NOT NULL DEFAULT 'vector'
    CHECK (index_type IN ('vector', 'halfvec'));
UPDATE embedding_spaces SET index_type = 'halfvec'
WHERE dimensions > 2000
   OR coalesce(pg_get_indexdef(to_regclass('chunk_embeddings_space_' || id)), '') LIKE '%halfvec_cosine_ops%';

-- +goose Down
-- The previous release indexes spaces of up to 2000 dimensions as vector:
-- switch those back first (protostar embeddings reindex SPACE --index vector),
-- or their searches cannot use their index.
ALTER TABLE embedding_spaces DROP COLUMN index_type;
