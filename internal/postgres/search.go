package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
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
	// For a sparse query the candidate list grows with the index: one
	// percent of the rows (reltuples, the planner's estimate), between the
	// dense minimum and pgvector's maximum (see efSearch).
	ef, sparse := efSearch(vec, k)
	b.Queue(`SELECT set_config('plan_cache_mode', 'force_custom_plan', true),
		set_config('hnsw.iterative_scan', 'relaxed_order', true),
		set_config('hnsw.ef_search', least($3::int, greatest($1::int, CASE WHEN $2::bool THEN
			coalesce((SELECT reltuples FROM pg_class WHERE oid = to_regclass($4)), 0)::int / 100 ELSE 0 END))::text, true)`,
		ef, sparse, maxEfSearch, spaceIndexName(space.ID))
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

// KeywordSearch returns the k chunks of the tenant that score highest by
// BM25 (see protostar.BM25) for q, best first, each hit's Explain holding
// its score and the query terms it holds. Statistics come from
// term_stats (see FoldTermStats).
//
// Candidates come from the keyword index, rarest terms first, MaxScore
// style: a round ranks every chunk holding one of the rarest terms by its
// full score over all query terms (later rounds only the chunks that
// earlier ones did not rank). A chunk holding none of them can score
// at most the sum of the other terms' bounds (idf·(k1+1) each); once the
// k-th best score reaches that sum, no chunk outside the candidates can
// enter the top k and the result is exact. Otherwise the next rarer terms
// join the candidates and the round repeats. So a question's rare terms
// bound the work, and common terms (의, the) only add to the scores of the
// candidates, unless the query has nothing rarer.
//
// When ranking exactly would score more than keywordBudget candidates,
// the search ends with the holders of its rarest terms that fit the
// budget, plus the chunks holding every term (see boundedRound): bounded
// work, and the best chunk holding none of those rarest terms is not
// guaranteed to be found. On a large corpus this is the common case for
// long questions of many common bigrams; the chunk a question means
// almost always holds some of its rarest terms.
//
// Each statement is planned for its actual query (QueryExecModeExec): a
// cached generic plan cannot know how many chunks a tsquery matches.
func (db *DB) KeywordSearch(ctx context.Context, tenantID string, q protostar.KeywordQuery, f protostar.SearchFilter, k int) ([]protostar.SearchHit, error) {
	if len(q.Terms) == 0 {
		return nil, nil
	}
	st, err := db.loadTermStats(ctx, tenantID, q.Terms)
	if err != nil {
		return nil, err
	}
	p := planKeyword(q, st)
	if len(p.terms) == 0 {
		return nil, nil
	}
	var hits []protostar.SearchHit
	for done := 0; done < len(p.terms); {
		e := p.nextRound(done)
		if p.cum[e-1] > keywordBudget {
			return db.boundedRound(ctx, tenantID, p, done, hits, f, k)
		}
		// Holders of the terms before done are ranked already.
		cands := "(" + strings.Join(p.terms[done:e], " | ") + ")"
		if done > 0 {
			cands += " & !(" + strings.Join(p.terms[:done], " | ") + ")"
		}
		more, err := db.keywordRound(ctx, tenantID, p, cands, 0, f, k)
		if err != nil {
			return nil, err
		}
		hits, done = mergeHits(k, hits, more), e
		if p.exact(done, hits, k) {
			break
		}
	}
	return hits, nil
}

// boundedRound ends a search whose exact ranking would score more than
// keywordBudget candidates. hits ranks the holders of the first done terms
// (the rarest, within the budget); to them it adds the best of at most
// keywordBudget chunks holding every query term, and, when even the
// rarest term is too common to rank all its holders (done is 0), the best
// of keywordBudget of its holders, taken in storage order.
func (db *DB) boundedRound(ctx context.Context, tenantID string, p keywordPlan, done int, hits []protostar.SearchHit, f protostar.SearchFilter, k int) ([]protostar.SearchHit, error) {
	all, err := db.keywordRound(ctx, tenantID, p, strings.Join(p.terms, " & "), keywordBudget, f, k)
	if err != nil {
		return nil, err
	}
	hits = mergeHits(k, hits, all)
	if done == 0 && len(p.terms) > 1 {
		some, err := db.keywordRound(ctx, tenantID, p, p.terms[0], keywordBudget, f, k)
		if err != nil {
			return nil, err
		}
		hits = mergeHits(k, hits, some)
	}
	return hits, nil
}

// keywordBudget bounds the candidates a keyword search scores: scoring
// one takes about 15 µs of Postgres time (reading its keywords, picking
// the query's lexemes and their positions), so 800 cost about 12 ms of
// one core, about what p99 ≤ 100 ms at 16 concurrent searches on two
// cores allows. On the development set (878 chunks) it never binds.
const keywordBudget = 800

// keywordFirstRound bounds the candidates of the first round, which
// usually decides: the k-th best holder of the rarest terms tends to
// outscore whatever only the common ones could add.
const keywordFirstRound = 150

// keywordPlan is a keyword query ordered for MaxScore: its terms, rarest
// first, with their weights (query weight × idf) and
// the running sums of their document frequencies.
type keywordPlan struct {
	terms   []string
	weights []float64
	bounds  []float64 // the most each term can add to a score
	cum     []int64   // cum[i]: postings of terms[:i+1]
	bm25    protostar.BM25
	avgLen  float64
}

func planKeyword(q protostar.KeywordQuery, st termStats) keywordPlan {
	// A term the statistics do not know yet (its chunks activated since
	// the last fold) counts as held by one chunk: rare, so ranked first.
	df := make([]int64, len(q.Terms))
	idx := make([]int, len(q.Terms))
	for i := range q.Terms {
		df[i], idx[i] = max(st.df[i], 1), i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(df[a], df[b]) })
	p := keywordPlan{bm25: q.BM25, avgLen: st.avgLen}
	var cum int64
	for _, i := range idx {
		w := q.Weights[i] * q.BM25.IDF(max(st.chunks, df[i]), df[i])
		cum += df[i]
		p.terms = append(p.terms, q.Terms[i])
		p.weights = append(p.weights, w)
		p.bounds = append(p.bounds, w*q.BM25.MaxTF())
		p.cum = append(p.cum, cum)
	}
	return p
}

// nextRound returns how many of the rarest terms the round after the one
// over terms[:done] takes: at first all whose postings together stay
// within keywordFirstRound, later enough to at least double the postings;
// at least one more term each time.
func (p keywordPlan) nextRound(done int) int {
	next := done + 1
	if done == 0 {
		for next < len(p.terms) && p.cum[next] <= keywordFirstRound {
			next++
		}
		return next
	}
	for next < len(p.terms) && p.cum[next] <= 2*p.cum[done-1] {
		next++
	}
	return next
}

// exact reports whether hits, ranked from the chunks holding one of the
// first e terms, are the true top k: no chunk holding only later terms
// can score above the k-th.
func (p keywordPlan) exact(e int, hits []protostar.SearchHit, k int) bool {
	if len(hits) < k {
		return false
	}
	rest := 0.0
	for _, b := range p.bounds[e:] {
		rest += b
	}
	return hits[k-1].Score >= rest
}

// keywordRound ranks the chunks matching the tsquery cands (at most limit
// of them when limit > 0) by their BM25 score and returns the best k.
// Index terms hold only letters and digits (package lexical guarantees it
// and FuzzTerms checks it), so joining them with operators builds a valid
// tsquery; it is still passed as a parameter.
func (db *DB) keywordRound(ctx context.Context, tenantID string, p keywordPlan, cands string, limit int, f protostar.SearchFilter, k int) ([]protostar.SearchHit, error) {
	args, err := filterArgs(tenantID, cands, f, k)
	if err != nil {
		return nil, err
	}
	capped := ""
	if limit > 0 {
		capped = " LIMIT " + strconv.Itoa(limit)
	}
	args = append([]any{pgx.QueryExecModeExec}, append(args, p.terms, p.weights, p.bm25.K1, p.bm25.B, p.avgLen)...)
	rows, err := db.pool.Query(ctx, `SELECT m.id, m.document_id, m.key, m.heading_path, m.text, s.score, s.matched
		FROM (SELECT c.id, c.document_id, d.key, c.heading_path, c.text, c.keywords, c.term_count
			FROM chunks c JOIN documents d ON d.id = c.document_id
			WHERE c.keywords @@ to_tsquery('simple', $2) AND `+searchFilterSQL+capped+`) m
		CROSS JOIN LATERAL (
			SELECT sum(q.w * `+bm25TF+`) AS score, array_agg(u.lexeme ORDER BY q.i) AS matched
			FROM unnest(ts_filter(setweight(m.keywords, 'A', $7::text[]), '{a}')) u
			JOIN unnest($7::text[], $8::float8[]) WITH ORDINALITY q(term, w, i) ON q.term = u.lexeme) s
		ORDER BY s.score DESC, m.id LIMIT $6`, args...)
	if err != nil {
		return nil, translate(err, "keyword search")
	}
	hits, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (protostar.SearchHit, error) {
		h := protostar.SearchHit{Explain: &protostar.SearchExplain{}}
		err := r.Scan(&h.ChunkID, &h.DocumentID, &h.Key, &h.HeadingPath, &h.Text, &h.Score, &h.Explain.MatchedTerms)
		h.Explain.KeywordScore = h.Score
		return h, err
	})
	return hits, translate(err, "keyword search")
}

// bm25TF is protostar.BM25.TF in SQL for the lexeme u of chunk m: its
// positions count its occurrences ($9 k1, $10 b, $11 the average length;
// a tenant whose statistics are not folded yet normalises by the chunk's
// own length).
const bm25TF = `(coalesce(cardinality(u.positions), 1) * ($9::float8 + 1) /
	(coalesce(cardinality(u.positions), 1) + $9::float8 * (1 - $10::float8 + $10::float8 * m.term_count /
		CASE WHEN $11::float8 > 0 THEN $11::float8 ELSE greatest(m.term_count, 1) END)))`

// mergeHits adds the hits of more that are not in hits, keeping the order
// by score, at most k in all.
func mergeHits(k int, hits, more []protostar.SearchHit) []protostar.SearchHit {
	seen := map[int64]bool{}
	for _, h := range hits {
		seen[h.ChunkID] = true
	}
	for _, h := range more {
		if !seen[h.ChunkID] {
			hits = append(hits, h)
		}
	}
	slices.SortStableFunc(hits, func(a, b protostar.SearchHit) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.ChunkID, b.ChunkID)
	})
	return hits[:min(k, len(hits))]
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
