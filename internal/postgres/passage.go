package postgres

import (
	"cmp"
	"context"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/protostar/protostar"
)

// passageCandidates is how many of the best chunks by their own score a
// keyword search rescores with their passages (see protostar.BM25.Passage)
// when it is asked for fewer. On the development set rescoring 10, 20 or
// 50 ranks the same.
const passageCandidates = 10

// candidates is how many chunks a search ranks by chunk score before the
// passage stage keeps k of them.
func (p keywordPlan) candidates(k int) int {
	if p.bm25.Passage > 0 {
		return max(k, passageCandidates)
	}
	return k
}

// addPassageScores adds to each chunk of top Passage times the BM25 score
// of its passage: the chunk and up to protostar.PassageRadius chunks on
// either side of it in the same document version, their query-term
// frequencies and lengths summed, normalised by the tenant's average
// passage length (avgPassage). It reads at most 2·PassageRadius+1 rows per
// chunk, each one's tsvector filtered to the query's terms, and returns
// top ordered by the new scores. A chunk whose row is gone (its version
// replaced since it was scored) keeps its score; keywordHits leaves it out.
func (db *DB) addPassageScores(ctx context.Context, tenantID string, p keywordPlan, top []scoredChunk) ([]scoredChunk, error) {
	if p.bm25.Passage <= 0 || len(top) == 0 {
		return top, nil
	}
	ids := make([]int64, len(top))
	for i, c := range top {
		ids[i] = c.id
	}
	rows, err := db.pool.Query(ctx, `SELECT c.id, sum(n.term_count)::bigint,
			string_agg(ts_filter(setweight(n.keywords, 'A', $3::text[]), '{a}')::text, ' ')
		FROM chunks c JOIN chunks n ON n.document_id = c.document_id AND n.version = c.version
			AND n.ordinal BETWEEN c.ordinal - $4 AND c.ordinal + $4 AND n.tenant_id = $2
		WHERE c.id = ANY($1) AND c.tenant_id = $2
		GROUP BY c.id`, ids, tenantID, p.terms, protostar.PassageRadius)
	if err != nil {
		return nil, translate(err, "keyword search: passages")
	}
	passage := make(map[int64]float64, len(top))
	var (
		id    int64
		n     int
		terms string
	)
	tf := make([]int, len(p.terms))
	_, err = pgx.ForEachRow(rows, []any{&id, &n, &terms}, func() error {
		clear(tf)
		p.eachTerm(terms, func(i, f int) { tf[i] += f })
		s := 0.0
		for i, f := range tf {
			if f > 0 {
				s += p.weights[i] * p.bm25.TF(f, n, p.avgPassage)
			}
		}
		passage[id] = s
		return nil
	})
	if err != nil {
		return nil, translate(err, "keyword search: passages")
	}
	for i := range top {
		top[i].passage = p.bm25.Passage * passage[top[i].id]
		top[i].score += top[i].passage
	}
	slices.SortFunc(top, func(a, b scoredChunk) int { return cmp.Or(cmp.Compare(b.score, a.score), cmp.Compare(a.id, b.id)) })
	return top, nil
}

// avgPassageLen is the average length of a passage when chunks are avgLen
// terms long and documents have chunks/documents chunks on average: a
// document's chunks up to the passage's 2·PassageRadius+1.
func avgPassageLen(st termStats) float64 {
	perDoc := 1.0
	if st.documents > 0 {
		perDoc = float64(st.chunks) / float64(st.documents)
	}
	return st.avgLen * min(perDoc, float64(2*protostar.PassageRadius+1))
}
