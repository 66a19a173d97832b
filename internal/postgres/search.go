package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

	"github.com/protostar/protostar"
)

// searchFilterSQL restricts chunks to the tenant's live, active versions and
// to the filter. Every value is a parameter ($1 tenant, $3..$5 filter).
const searchFilterSQL = `c.tenant_id = $1 AND d.deleted_at IS NULL AND c.version = d.indexed_version
	AND (cardinality($3::uuid[]) = 0 OR c.document_id = ANY($3::uuid[]))
	AND ($4 = '' OR starts_with(d.key, $4))
	AND d.metadata @> $5::jsonb`

// VectorSearch returns the k chunks nearest to vec by cosine distance using
// the HNSW index. Iterative index scans (pgvector 0.8) keep filtered queries
// returning k rows when enough match; relaxed ordering is re-sorted here.
//
// The statement is planned for its actual parameters every time: after five
// executions of a prepared statement Postgres may switch to a generic plan,
// and the generic plan of ORDER BY distance LIMIT $6 does not use the HNSW
// index, turning every search into a scan of all the tenant's chunks. The
// settings and the query go to the server as one pipelined batch, so the
// search costs one round trip.
//
// Only the space's vectors are read, through the space's own partial
// expression index: its id and dimension are written into the statement
// (they are numbers from the database, never client input), since a
// partial index is used only when its predicate is provable at planning.
func (db *DB) VectorSearch(ctx context.Context, space protostar.EmbeddingSpace, tenantID string, vec []float32, f protostar.SearchFilter, k int) ([]protostar.SearchHit, error) {
	ef, lexical := efSearch(space, vec, k)
	return db.vectorSearch(ctx, space, tenantID, vec, f, k, ef, lexical)
}

// VectorSearchEf is VectorSearch with hnsw.ef_search set to ef (at most
// pgvector's 1000) whatever the vector: the bench measures recall and
// latency against it.
func (db *DB) VectorSearchEf(ctx context.Context, space protostar.EmbeddingSpace, tenantID string, vec []float32, f protostar.SearchFilter, k, ef int) ([]protostar.SearchHit, error) {
	return db.vectorSearch(ctx, space, tenantID, vec, f, k, ef, false)
}

// vectorSearch is VectorSearch with ef_search ef, or, if lexical, one
// percent of the index's rows when that is more.
func (db *DB) vectorSearch(ctx context.Context, space protostar.EmbeddingSpace, tenantID string, vec []float32, f protostar.SearchFilter, k, ef int, lexical bool) ([]protostar.SearchHit, error) {
	if len(vec) != space.Dimensions {
		return nil, fmt.Errorf("vector search: a %d-dimensional query in %d-dimensional space %d", len(vec), space.Dimensions, space.ID)
	}
	args, err := filterArgs(tenantID, pgvector.NewVector(vec), f, k)
	if err != nil {
		return nil, err
	}
	var hits []protostar.SearchHit
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	// For a lexical query the candidate list grows with the index: one
	// percent of the rows (reltuples, the planner's estimate), between the
	// dense minimum and pgvector's maximum (see efSearch).
	b.Queue(`SELECT set_config('plan_cache_mode', 'force_custom_plan', true),
		set_config('hnsw.iterative_scan', 'relaxed_order', true),
		set_config('hnsw.ef_search', least($3::int, greatest($1::int, CASE WHEN $2::bool THEN
			coalesce((SELECT reltuples FROM pg_class WHERE oid = to_regclass($4)), 0)::int / 100 ELSE 0 END))::text, true)`,
		ef, lexical, maxEfSearch, spaceIndexName(space.ID))
	b.Queue(vectorSearchSQL(space), args...).
		Query(func(rows pgx.Rows) error {
			hits, err = collectHits(rows)
			return err
		})
	b.Queue(`COMMIT`)
	// On an error the connection is left in a failed transaction; the pool
	// discards such connections when they are released.
	err = db.pool.SendBatch(ctx, b).Close()
	return hits, translate(err, "vector search")
}

// vectorSearchSQL is VectorSearch's statement for the space: the index
// expression of its type orders the candidates; a halfvec space's are
// returned in the order of their full-precision distance.
func vectorSearchSQL(space protostar.EmbeddingSpace) string {
	order := spaceVectorExpr("e.", space.SpaceSpec) + " <=> " + strings.Replace(spaceVectorExpr("", space.SpaceSpec), "(embedding::", "($2::vector::", 1)
	dist := order
	if space.IndexType() == protostar.IndexHalfvec {
		dist = "e.embedding <=> $2::vector"
	}
	return `WITH hits AS MATERIALIZED (
			SELECT c.id, c.document_id, d.key, c.heading_path, c.text, ` + dist + ` AS distance
			FROM chunk_embeddings e JOIN chunks c ON c.id = e.chunk_id JOIN documents d ON d.id = c.document_id
			WHERE e.space_id = ` + strconv.FormatInt(space.ID, 10) + ` AND ` + searchFilterSQL + `
			ORDER BY ` + order + ` LIMIT $6)
		SELECT id, document_id, key, heading_path, text, 1 - distance FROM hits ORDER BY distance LIMIT $6`
}

// maxEfSearch is pgvector's upper bound for hnsw.ef_search.
const maxEfSearch = 1000

// efSearch returns the HNSW candidate list size (hnsw.ef_search) a query
// vector needs at least, and whether it is lexical. Vectors of learned
// embedding models need little: max(64, 2k). Lexical ones, the offline
// hash embedder's (either model) or any sparse vector, need a list that
// grows with the index: the similarity of a query to a chunk sharing none
// of its terms is noise around 0, so the index's greedy graph walk has no
// direction to follow until it reaches a chunk that shares a term. On
// generated mixed Korean/English chunks, recall@10 against an exact scan
// was 0.96 at ef_search 64 on 10k chunks, but 0.78 at 64 and 0.96 at 1000
// on 100k (docs/benchmarks.md); so VectorSearch gives lexical queries one
// percent of the index's rows, up to pgvector's maximum. A dense random
// projection of the same terms (hash-v2-dense) does not change that: 0.85
// at 64 and 0.97 at 1000 on 100k (docs/benchmarks.md, dense offline
// vectors). The space's provider decides rather than the query's
// sparsity alone, so a dense hash vector or a long query (a hash-v1
// vector of a hundred terms sets a quarter of 384 buckets) is not walked
// with the short list.
func efSearch(space protostar.EmbeddingSpace, vec []float32, k int) (ef int, lexical bool) {
	nonzero := 0
	for _, x := range vec {
		if x != 0 {
			nonzero++
		}
	}
	return min(maxEfSearch, max(64, 2*k)), space.Provider == "hash" || nonzero*4 < len(vec)
}

// filterArgs builds the positional parameters shared by both searches.
func filterArgs(tenantID string, query any, f protostar.SearchFilter, k int) ([]any, error) {
	ids := f.DocumentIDs
	if ids == nil {
		ids = []string{}
	}
	for _, id := range ids {
		if !validUUID(id) {
			return nil, protostar.Errorf(protostar.EINVALID, "filter.document_ids: %q is not a document id", id)
		}
	}
	meta := map[string]string{}
	for key, v := range f.Metadata {
		meta[key] = v
	}
	raw, err := json.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("encode metadata filter: %w", err)
	}
	return []any{tenantID, query, ids, f.KeyPrefix, string(raw), k}, nil
}

func collectHits(rows pgx.Rows) ([]protostar.SearchHit, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (protostar.SearchHit, error) {
		var h protostar.SearchHit
		err := r.Scan(&h.ChunkID, &h.DocumentID, &h.Key, &h.HeadingPath, &h.Text, &h.Score)
		return h, err
	})
}
