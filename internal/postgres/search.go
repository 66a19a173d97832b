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
func (db *DB) VectorSearch(ctx context.Context, tenantID string, vec []float32, f protostar.SearchFilter, k int) ([]protostar.SearchHit, error) {
	args, err := filterArgs(tenantID, pgvector.NewVector(vec), f, k)
	if err != nil {
		return nil, err
	}
	var hits []protostar.SearchHit
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	// For a sparse query the candidate list grows with the index: one
	// percent of the rows (reltuples, the planner's estimate), between the
	// dense minimum and pgvector's maximum (see efSearch).
	ef, sparse := efSearch(vec, k)
	b.Queue(`SELECT set_config('plan_cache_mode', 'force_custom_plan', true),
		set_config('hnsw.iterative_scan', 'relaxed_order', true),
		set_config('hnsw.ef_search', least($3::int, greatest($1::int, CASE WHEN $2::bool THEN
			(SELECT reltuples FROM pg_class WHERE oid = 'chunks'::regclass)::int / 100 ELSE 0 END))::text, true)`,
		ef, sparse, maxEfSearch)
	b.Queue(`WITH hits AS MATERIALIZED (
			SELECT c.id, c.document_id, d.key, c.heading_path, c.text, c.embedding <=> $2 AS distance
			FROM chunks c JOIN documents d ON d.id = c.document_id
			WHERE `+searchFilterSQL+`
			ORDER BY c.embedding <=> $2 LIMIT $6)
		SELECT id, document_id, key, heading_path, text, 1 - distance FROM hits ORDER BY distance LIMIT $6`, args...).
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

// maxEfSearch is pgvector's upper bound for hnsw.ef_search.
const maxEfSearch = 1000

// efSearch returns the HNSW candidate list size (hnsw.ef_search) a query
// vector needs at least, and whether it is sparse. Dense vectors, as
// learned embedding models make them, need little: max(64, 2k). Sparse ones
// need a list that grows with the index: a short query embedded by the
// offline hash embedder sets a few of hundreds of dimensions, and the
// index's greedy graph walk has no direction to follow until it reaches a
// chunk that shares a term. On generated mixed Korean/English chunks,
// recall@10 against an exact scan was 0.96 at ef_search 64 on 10k chunks,
// but 0.78 at 64 and 0.96 at 1000 on 100k (docs/benchmarks.md); so
// VectorSearch gives sparse queries one percent of the index's rows, up to
// pgvector's maximum.
func efSearch(vec []float32, k int) (ef int, sparse bool) {
	nonzero := 0
	for _, x := range vec {
		if x != 0 {
			nonzero++
		}
	}
	return min(maxEfSearch, max(64, 2*k)), nonzero*4 < len(vec)
}

// KeywordSearch returns the k chunks that best match the query words, each
// given as its terms (see package lexical). Matching runs in tiers, each
// only while fewer than k chunks have been found: chunks holding every term
// of every word; then chunks holding every word without its last term, the
// place of a Korean particle (설정을 matches 설정); then chunks holding any
// term. Within a tier chunks are ranked by ts_rank over at most
// keywordCandidates matches, so a query of words that half the corpus
// contains costs a bounded amount of work instead of ranking every match.
// A hit's score is its tier's weight plus its rank, so scores fall with
// the order of the results.
//
// Each statement is planned for its actual query (QueryExecModeExec): a
// cached generic plan cannot know how many chunks a tsquery matches and
// may scan the whole table for a rare term.
func (db *DB) KeywordSearch(ctx context.Context, tenantID string, words [][]string, f protostar.SearchFilter, k int) ([]protostar.SearchHit, error) {
	tiers := keywordTiers(words)
	var hits []protostar.SearchHit
	prev := ""
	for i, q := range tiers {
		if len(hits) >= k {
			break
		}
		// Terms hold only letters and digits (lexical guarantees it), so the
		// operators build a valid tsquery; it is still passed as a parameter.
		args, err := filterArgs(tenantID, q, f, k-len(hits))
		if err != nil {
			return nil, err
		}
		rows, err := db.pool.Query(ctx, `SELECT id, document_id, key, heading_path, text, $8::float8 + ts_rank(keywords, q) / (1 + ts_rank(keywords, q)) AS score
			FROM (SELECT c.id, c.document_id, d.key, c.heading_path, c.text, c.keywords
				FROM chunks c JOIN documents d ON d.id = c.document_id
				WHERE c.keywords @@ to_tsquery('simple', $2) AND ($7 = '' OR NOT c.keywords @@ to_tsquery('simple', $7))
				AND `+searchFilterSQL+`
				LIMIT `+strconv.Itoa(keywordCandidates)+`) m, to_tsquery('simple', $2) q
			ORDER BY score DESC, id LIMIT $6`, append([]any{pgx.QueryExecModeExec}, append(args, prev, float64(len(tiers)-1-i))...)...)
		if err != nil {
			return nil, translate(err, "keyword search")
		}
		tier, err := collectHits(rows)
		if err != nil {
			return nil, translate(err, "keyword search")
		}
		hits = append(hits, tier...)
		prev = q
	}
	return hits, nil
}

// keywordCandidates caps the matches ranked per keyword tier.
const keywordCandidates = 1000

// keywordTiers builds the tsqueries of KeywordSearch's tiers, strictest
// first, leaving out a tier that would match what the one before it does.
func keywordTiers(words [][]string) []string {
	var all, stems []string
	relaxed := false
	for _, w := range words {
		if len(w) == 0 {
			continue
		}
		all = append(all, w...)
		stems = append(stems, "("+strings.Join(w[:max(1, len(w)-1)], " & ")+")")
		relaxed = relaxed || len(w) > 1
	}
	if len(all) == 0 {
		return nil
	}
	tiers := []string{strings.Join(all, " & ")}
	if relaxed {
		tiers = append(tiers, strings.Join(stems, " & "))
	}
	if len(all) > 1 {
		tiers = append(tiers, strings.Join(all, " | "))
	}
	return tiers
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
