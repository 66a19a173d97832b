package postgres

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/pressly/goose/v3"
)

// chunksMigration creates the chunks table. It is a Go migration because
// the vector column's dimension comes from PROTOSTAR_EMBED_DIMENSIONS: an
// HNSW index needs a fixed dimension. Changing the dimension later means
// re-embedding everything, which is a deliberate operation, not a restart.
func chunksMigration(dims int) *goose.Migration {
	up := fmt.Sprintf(`
CREATE TABLE chunks (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id    text      NOT NULL,
    document_id  uuid      NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    version      integer   NOT NULL,
    ordinal      integer   NOT NULL,
    heading_path text[]    NOT NULL DEFAULT '{}',
    text         text      NOT NULL,
    content_hash bytea     NOT NULL,
    tokens       integer   NOT NULL,
    embedding    vector(%d) NOT NULL,
    embed_model  text      NOT NULL,
    embed_dim    integer   NOT NULL,
    terms        text      NOT NULL,
    keywords     tsvector  GENERATED ALWAYS AS (to_tsvector('simple', terms)) STORED,
    UNIQUE (document_id, version, ordinal)
);
CREATE INDEX chunks_embedding ON chunks USING hnsw (embedding vector_cosine_ops);
CREATE INDEX chunks_keywords ON chunks USING gin (keywords);
CREATE INDEX chunks_tenant ON chunks (tenant_id);
`, dims)
	return goose.NewGoMigration(2,
		&goose.GoFunc{RunTx: execTx(up)},
		&goose.GoFunc{RunTx: execTx(`DROP TABLE chunks;`)},
	)
}

func execTx(stmt string) func(context.Context, *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, stmt)
		return err
	}
}
