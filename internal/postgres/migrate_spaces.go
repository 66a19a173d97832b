package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/pressly/goose/v3"

	"github.com/protostar/protostar"
)

// spacesMigration (00020) moves vectors out of chunks into embedding
// spaces. The chunks.embedding column becomes the first, active space:
// its vectors are copied as they are (nothing is embedded again), with the
// model the rows were written by, or initial's on a fresh database. The
// column stays, nullable and no longer written, so processes of the
// previous release keep serving while replicas are replaced; a later
// release drops it.
func spacesMigration(initial protostar.SpaceSpec) *goose.Migration {
	return goose.NewGoMigration(20,
		&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error { return migrateSpacesUp(ctx, tx, initial) }},
		&goose.GoFunc{RunTx: migrateSpacesDown},
	)
}

const spacesSchema = `
CREATE TABLE embedding_spaces (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider        text        NOT NULL,
    model           text        NOT NULL,
    dimensions      integer     NOT NULL CHECK (dimensions BETWEEN 1 AND 4000),
    send_dimensions boolean     NOT NULL DEFAULT true,
    fingerprint     text        NOT NULL,
    state           text        NOT NULL CHECK (state IN ('building', 'active', 'standby', 'retired')),
    previous_id     bigint      REFERENCES embedding_spaces (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    activated_at    timestamptz,
    retired_at      timestamptz
);
-- Exactly one space serves every tenant without a space of its own.
CREATE UNIQUE INDEX embedding_spaces_one_active ON embedding_spaces ((true)) WHERE state = 'active';

-- A tenant activated on a space of its own (activate --tenant); previous
-- is what its rollback returns to.
CREATE TABLE tenant_spaces (
    tenant_id         text        PRIMARY KEY,
    space_id          bigint      NOT NULL REFERENCES embedding_spaces (id),
    previous_space_id bigint      REFERENCES embedding_spaces (id),
    activated_at      timestamptz NOT NULL DEFAULT now()
);

-- One vector per chunk and space. The column has no fixed dimension; each
-- space's HNSW index is a partial expression index casting to its own.
CREATE TABLE chunk_embeddings (
    space_id  bigint NOT NULL REFERENCES embedding_spaces (id),
    chunk_id  bigint NOT NULL REFERENCES chunks (id) ON DELETE CASCADE,
    embedding vector NOT NULL,
    PRIMARY KEY (space_id, chunk_id)
);
CREATE INDEX chunk_embeddings_chunk ON chunk_embeddings (chunk_id);

ALTER TABLE chunks ALTER COLUMN embedding DROP NOT NULL,
    ALTER COLUMN embed_model SET DEFAULT '', ALTER COLUMN embed_dim SET DEFAULT 0;

ALTER TABLE jobs DROP CONSTRAINT jobs_type_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_type_check CHECK (type IN ('ingest', 'summary', 'tenant_delete', 'sync', 'embed_backfill'));
`

func migrateSpacesUp(ctx context.Context, tx *sql.Tx, initial protostar.SpaceSpec) error {
	if _, err := tx.ExecContext(ctx, spacesSchema); err != nil {
		return fmt.Errorf("create embedding spaces: %w", err)
	}
	spec := initial
	// The rows say which model wrote them: the configured one if any row
	// has it, else whichever wrote the first row.
	var model string
	err := tx.QueryRowContext(ctx, `SELECT embed_model FROM chunks WHERE embed_model = $1 LIMIT 1`, initial.Model).Scan(&model)
	if errors.Is(err, sql.ErrNoRows) {
		err = tx.QueryRowContext(ctx, `SELECT embed_model FROM chunks LIMIT 1`).Scan(&model)
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return fmt.Errorf("read the embedding model of existing chunks: %w", err)
	case model != spec.Model:
		spec.Model, spec.Provider = model, "openai"
		if strings.HasPrefix(model, "hash-") {
			spec.Provider = "hash"
		}
	}
	if err := tx.QueryRowContext(ctx, `SELECT atttypmod FROM pg_attribute
		WHERE attrelid = 'chunks'::regclass AND attname = 'embedding'`).Scan(&spec.Dimensions); err != nil {
		return fmt.Errorf("read the chunk vector dimension: %w", err)
	}
	var id int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO embedding_spaces (provider, model, dimensions, send_dimensions, fingerprint, state, activated_at)
		VALUES ($1, $2, $3, $4, $5, 'active', now()) RETURNING id`,
		spec.Provider, spec.Model, spec.Dimensions, spec.SendDimensions, spec.Fingerprint()).Scan(&id); err != nil {
		return fmt.Errorf("create the first embedding space: %w", err)
	}
	// Rows of another model (the mixing this migration ends) get no vector
	// here: status shows them missing, and backfill embeds them.
	if _, err := tx.ExecContext(ctx, `INSERT INTO chunk_embeddings (space_id, chunk_id, embedding)
		SELECT $1, id, embedding FROM chunks WHERE embed_model = $2 AND embedding IS NOT NULL`, id, spec.Model); err != nil {
		return fmt.Errorf("copy vectors into the first embedding space: %w", err)
	}
	if _, err := tx.ExecContext(ctx, spaceIndexSQL(spaceIndexName(id), id, spec, false)); err != nil {
		return fmt.Errorf("index the first embedding space: %w", err)
	}
	return nil
}

func migrateSpacesDown(ctx context.Context, tx *sql.Tx) error {
	// The active space's vectors go back into the column (if their
	// dimension is the column's); chunks without one are dropped.
	_, err := tx.ExecContext(ctx, `
UPDATE chunks c SET embedding = e.embedding::text::vector, embed_model = s.model, embed_dim = s.dimensions
FROM chunk_embeddings e JOIN embedding_spaces s ON s.id = e.space_id AND s.state = 'active'
WHERE e.chunk_id = c.id AND c.embedding IS NULL;
DELETE FROM chunks WHERE embedding IS NULL;
ALTER TABLE chunks ALTER COLUMN embedding SET NOT NULL;
DELETE FROM jobs WHERE type = 'embed_backfill';
ALTER TABLE jobs DROP CONSTRAINT jobs_type_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_type_check CHECK (type IN ('ingest', 'summary', 'tenant_delete', 'sync'));
DROP TABLE chunk_embeddings;
DROP TABLE tenant_spaces;
DROP TABLE embedding_spaces;`)
	return err
}

// spaceIndexName is the name of the space's HNSW index.
func spaceIndexName(id int64) string { return fmt.Sprintf("chunk_embeddings_space_%d", id) }

// spaceVectorExpr is the expression the space's index is built on, and
// that its searches must order by to use it: the vector cast to the
// space's dimension and index type (protostar.SpaceSpec.IndexType).
func spaceVectorExpr(alias string, spec protostar.SpaceSpec) string {
	return fmt.Sprintf("(%sembedding::%s(%d))", alias, spec.IndexType(), spec.Dimensions)
}

// spaceIndexSQL creates the space's partial HNSW index under name
// (concurrently: outside a transaction, without blocking writes).
func spaceIndexSQL(name string, id int64, spec protostar.SpaceSpec, concurrently bool) string {
	conc := ""
	if concurrently {
		conc = "CONCURRENTLY "
	}
	return fmt.Sprintf(`CREATE INDEX %sIF NOT EXISTS %s ON chunk_embeddings USING hnsw (%s %s_cosine_ops) WHERE space_id = %d`,
		conc, name, spaceVectorExpr("", spec), spec.IndexType(), id)
}
