package postgres

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/protostar/protostar"
)

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
// A round reads, per candidate, only its length and the positions of the
// query's terms (the chunk's tsvector filtered in Postgres, stored inline:
// migration 00024); the scores are computed here, by the same
// protostar.BM25 the reference uses, and only the final candidates' text
// is read (keywordHits), in the statement that reads their passages: with
// passage scores on, the best max(k, 10) chunks are read and reordered by
// chunk plus passage score, and the best k of them returned.
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
	top, err := db.rankChunks(ctx, tenantID, p, f, p.candidates(k))
	if err != nil {
		return nil, err
	}
	return db.keywordHits(ctx, tenantID, p, top, k)
}

// rankChunks returns the k best chunks by their own BM25 score (MaxScore
// rounds, see KeywordSearch).
func (db *DB) rankChunks(ctx context.Context, tenantID string, p keywordPlan, f protostar.SearchFilter, k int) ([]scoredChunk, error) {
	var (
		top []scoredChunk
		err error
	)
	for done := 0; done < len(p.terms); {
		e := p.nextRound(done)
		if p.cum[e-1] > keywordBudget {
			if top, err = db.boundedRound(ctx, tenantID, p, done, top, f, k); err != nil {
				return nil, err
			}
			break
		}
		// Holders of the terms before done are ranked already.
		cands := "(" + strings.Join(p.terms[done:e], " | ") + ")"
		if done > 0 {
			cands += " & !(" + strings.Join(p.terms[:done], " | ") + ")"
		}
		more, err := db.keywordRound(ctx, tenantID, p, cands, 0, f)
		if err != nil {
			return nil, err
		}
		top, done = mergeTop(k, top, more), e
		if p.exact(done, top, k) {
			break
		}
	}
	return top, nil
}

// boundedRound ends a search whose exact ranking would score more than
// keywordBudget candidates. top ranks the holders of the first done terms
// (the rarest, within the budget); to them it adds the best of at most
// keywordBudget chunks holding every query term, and, when even the
// rarest term is too common to rank all its holders (done is 0), the best
// of keywordBudget of its holders, taken in storage order.
func (db *DB) boundedRound(ctx context.Context, tenantID string, p keywordPlan, done int, top []scoredChunk, f protostar.SearchFilter, k int) ([]scoredChunk, error) {
	all, err := db.keywordRound(ctx, tenantID, p, strings.Join(p.terms, " & "), keywordBudget, f)
	if err != nil {
		return nil, err
	}
	top = mergeTop(k, top, all)
	if done == 0 && len(p.terms) > 1 {
		some, err := db.keywordRound(ctx, tenantID, p, p.terms[0], keywordBudget, f)
		if err != nil {
			return nil, err
		}
		top = mergeTop(k, top, some)
	}
	return top, nil
}

// keywordBudget bounds the candidates a keyword search scores. Scoring one
// costs about 3 µs of Postgres time (finding its row, filtering its
// tsvector to the query's terms) and less of ours, so 800 cost a few
// milliseconds of one core, about what p99 ≤ 100 ms at 16 concurrent
// searches on two cores allows with the rest of a request. On the
// development set (878 chunks) it never binds.
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
	index   map[string]int // position of each term in terms
	weights []float64
	bounds  []float64 // the most each term can add to a score
	cum     []int64   // cum[i]: postings of terms[:i+1]
	bm25    protostar.BM25
	avgLen  float64
	// avgPassage is the average passage length (see passageScore).
	avgPassage float64
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
	p := keywordPlan{bm25: q.BM25, avgLen: st.avgLen, avgPassage: avgPassageLen(st), index: map[string]int{}}
	var cum int64
	for _, i := range idx {
		w := q.Weights[i] * q.BM25.IDF(max(st.chunks, df[i]), df[i])
		cum += df[i]
		p.index[q.Terms[i]] = len(p.terms)
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

// exact reports whether top, ranked from the chunks holding one of the
// first e terms, is the true top k: no chunk holding only later terms
// can score above the k-th.
func (p keywordPlan) exact(e int, top []scoredChunk, k int) bool {
	if len(top) < k {
		return false
	}
	rest := 0.0
	for _, b := range p.bounds[e:] {
		rest += b
	}
	return top[k-1].score >= rest
}

// scoredChunk is a keyword candidate with its BM25 score and its tsvector
// filtered to the query's terms, from which the final hits' matched terms
// are read (matchedTerms): only k of the candidates need them.
type scoredChunk struct {
	id    int64
	score float64
	vec   string
}

// keywordRound scores the chunks matching the tsquery cands (at most limit
// of them when limit > 0). Index terms hold only letters and digits
// (package lexical guarantees it and FuzzTerms checks it), so joining them
// with operators builds a valid tsquery; it is still passed as a
// parameter.
func (db *DB) keywordRound(ctx context.Context, tenantID string, p keywordPlan, cands string, limit int, f protostar.SearchFilter) ([]scoredChunk, error) {
	args, err := filterArgs(tenantID, cands, f, 0)
	if err != nil {
		return nil, err
	}
	capped := ""
	if limit > 0 {
		capped = " LIMIT " + strconv.Itoa(limit)
	}
	args = append([]any{pgx.QueryExecModeExec}, append(args[:5], p.terms)...)
	rows, err := db.pool.Query(ctx, `SELECT c.id, c.term_count, ts_filter(setweight(c.keywords, 'A', $6::text[]), '{a}')::text
		FROM chunks c JOIN documents d ON d.id = c.document_id
		WHERE c.keywords @@ to_tsquery('simple', $2) AND `+searchFilterSQL+capped, args...)
	if err != nil {
		return nil, translate(err, "keyword search")
	}
	var (
		out   []scoredChunk
		id    int64
		n     int
		terms string
	)
	tf := make([]int, len(p.terms))
	_, err = pgx.ForEachRow(rows, []any{&id, &n, &terms}, func() error {
		out = append(out, p.score(id, n, terms, tf))
		return nil
	})
	return out, translate(err, "keyword search")
}

// score is the BM25 score of chunk id, of length n, whose tsvector
// filtered to the query's terms is vec; tf is scratch space (see bm25Of).
func (p keywordPlan) score(id int64, n int, vec string, tf []int) scoredChunk {
	return scoredChunk{id: id, score: p.bm25Of(vec, n, p.avgLen, tf), vec: vec}
}

// bm25Of is the BM25 score of a text n terms long, normalised by the
// average length avg, whose tsvectors filtered to the query's terms are
// vec (see eachTerm): one chunk's, or a passage's, where a term's
// frequencies in its chunks add up. tf is scratch space, len(p.terms).
func (p keywordPlan) bm25Of(vec string, n int, avg float64, tf []int) float64 {
	clear(tf)
	p.eachTerm(vec, func(i, f int) { tf[i] += f })
	s := 0.0
	for i, f := range tf {
		if f > 0 {
			s += p.weights[i] * p.bm25.TF(f, n, avg)
		}
	}
	return s
}

// matchedTerms are the query terms the filtered tsvector vec holds,
// rarest first.
func (p keywordPlan) matchedTerms(vec string) []string {
	var held []int
	p.eachTerm(vec, func(i, _ int) { held = append(held, i) })
	slices.Sort(held)
	var out []string
	for _, i := range held {
		out = append(out, p.terms[i])
	}
	return out
}

// eachTerm calls fn with the plan index and frequency of each query term
// in the filtered tsvector vec (tsvector output: 'term':1A,7A ...; a term
// stored without positions counts once).
func (p keywordPlan) eachTerm(vec string, fn func(i, tf int)) {
	for entry := range strings.FieldsSeq(vec) {
		lexeme, positions, _ := strings.Cut(entry, ":")
		i, ok := p.index[strings.Trim(lexeme, "'")]
		if !ok {
			continue
		}
		tf := 1
		if positions != "" {
			tf = strings.Count(positions, ",") + 1
		}
		fn(i, tf)
	}
}

// mergeTop adds the chunks of more that are not in top, keeping the order
// by score (ties by id), at most k in all.
func mergeTop(k int, top, more []scoredChunk) []scoredChunk {
	seen := make(map[int64]bool, len(top))
	for _, c := range top {
		seen[c.id] = true
	}
	for _, c := range more {
		if !seen[c.id] {
			top = append(top, c)
		}
	}
	slices.SortFunc(top, func(a, b scoredChunk) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	return top[:min(k, len(top))]
}

// keywordHits reads the ranked chunks' documents, headings and text, and
// with passage scores on, their passages (see passageScore), and
// returns the best k, best first. A chunk whose document was deleted or
// replaced since it was scored is left out.
func (db *DB) keywordHits(ctx context.Context, tenantID string, p keywordPlan, top []scoredChunk, k int) ([]protostar.SearchHit, error) {
	if len(top) == 0 {
		return nil, nil
	}
	ids := make([]int64, len(top))
	for i, c := range top {
		ids[i] = c.id
	}
	rows, err := db.pool.Query(ctx, `SELECT c.id, c.document_id, d.key, c.heading_path, c.text, coalesce(ps.len, 0), coalesce(ps.vec, '')
		FROM chunks c JOIN documents d ON d.id = c.document_id
		LEFT JOIN LATERAL (SELECT sum(n.term_count)::bigint AS len,
				string_agg(ts_filter(setweight(n.keywords, 'A', $3::text[]), '{a}')::text, ' ') AS vec
			FROM chunks n WHERE $4::int >= 0 AND n.document_id = c.document_id AND n.version = c.version
				AND n.ordinal BETWEEN c.ordinal - $4::int AND c.ordinal + $4::int AND n.tenant_id = $2) ps ON true
		WHERE c.id = ANY($1) AND c.tenant_id = $2 AND d.deleted_at IS NULL AND c.version = d.indexed_version`,
		ids, tenantID, p.terms, p.passageRadius())
	if err != nil {
		return nil, translate(err, "keyword search: read hits")
	}
	type row struct {
		hit protostar.SearchHit
		len int64  // the passage's length
		vec string // its tsvectors filtered to the query's terms
	}
	found, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.hit.ChunkID, &x.hit.DocumentID, &x.hit.Key, &x.hit.HeadingPath, &x.hit.Text, &x.len, &x.vec)
		return x, err
	})
	if err != nil {
		return nil, translate(err, "keyword search: read hits")
	}
	byID := make(map[int64]row, len(found))
	for _, x := range found {
		byID[x.hit.ChunkID] = x
	}
	hits := make([]protostar.SearchHit, 0, len(top))
	tf := make([]int, len(p.terms))
	for _, c := range top {
		x, ok := byID[c.id]
		if !ok {
			continue
		}
		h, passage := x.hit, p.passageScore(x.len, x.vec, tf)
		h.Score = c.score + passage
		h.Explain = &protostar.SearchExplain{KeywordScore: h.Score, PassageScore: passage, MatchedTerms: p.matchedTerms(c.vec)}
		hits = append(hits, h)
	}
	slices.SortStableFunc(hits, func(a, b protostar.SearchHit) int { return cmp.Compare(b.Score, a.Score) })
	return hits[:min(k, len(hits))], nil
}
