// Package search answers a tenant's queries over its indexed chunks: vector
// search on the HNSW index, BM25 keyword search over Korean-aware index
// terms, or both fused with weighted reciprocal-rank fusion (hybrid, the
// default), optionally reordered by a reranker.
package search

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/lexical"
)

// Store runs the two retrieval queries. Both only ever return the tenant's
// own chunks of active document versions. KeywordSearch fills each hit's
// Explain with its keyword score and matched terms.
type Store interface {
	// VectorSearch reads only the given embedding space's vectors.
	VectorSearch(ctx context.Context, space protostar.EmbeddingSpace, tenantID string, vec []float32, f protostar.SearchFilter, k int) ([]protostar.SearchHit, error)
	KeywordSearch(ctx context.Context, tenantID string, q protostar.KeywordQuery, f protostar.SearchFilter, k int) ([]protostar.SearchHit, error)
}

// Spaces gives a tenant's active embedding space and its embedder: the
// query is embedded by the model that embedded the vectors it is compared
// with, and scores of two spaces are never fused.
type Spaces interface {
	ForTenant(ctx context.Context, tenantID string) (protostar.SpaceEmbedder, error)
}

// Limits of a query.
const (
	DefaultTopK  = 10
	MaxTopK      = 100
	MaxQueryLen  = 4096 // bytes
	maxTerms     = 64
	rrfK         = 60 // the usual reciprocal-rank-fusion constant
	hybridFactor = 3  // each side fetches this many times top_k before fusing
)

// Config tunes ranking. Zero values take the defaults.
type Config struct {
	BM25 protostar.BM25 // default k1 1.2, b 0.75; LengthFloor as given (0 is plain BM25)
	// VectorWeight and KeywordWeight weigh each side's reciprocal rank in
	// hybrid search. A side with weight 0 only adds the chunks the other
	// side did not find, after all of the other's. Default 1 each; the
	// daemon gives the offline hash embedder's vectors, which hold the same
	// lexical terms as the keyword side, a small weight (see Weights).
	VectorWeight, KeywordWeight float64
	Reranker                    Reranker // nil: no rerank stage
	RerankTopN                  int      // fused hits the reranker reorders; default 50
	Logger                      *slog.Logger
}

// Service runs searches.
type Service struct {
	store  Store
	spaces Spaces
	cfg    Config
	logger *slog.Logger
}

// New returns a search service.
func New(store Store, spaces Spaces, cfg Config) *Service {
	cfg.BM25.K1 = cmp.Or(cfg.BM25.K1, protostar.DefaultBM25K1)
	if cfg.BM25.B == 0 {
		cfg.BM25.B = protostar.DefaultBM25B
	}
	if cfg.VectorWeight == 0 && cfg.KeywordWeight == 0 {
		cfg.VectorWeight, cfg.KeywordWeight = 1, 1
	}
	cfg.RerankTopN = cmp.Or(cfg.RerankTopN, 50)
	logger := cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))
	return &Service{store: store, spaces: spaces, cfg: cfg, logger: logger.With("component", "search")}
}

// Validate normalises q in place and reports bad input as EINVALID.
func Validate(q *protostar.SearchQuery) error {
	q.Mode = cmp.Or(q.Mode, protostar.SearchHybrid)
	q.TopK = cmp.Or(q.TopK, DefaultTopK)
	switch {
	case strings.TrimSpace(q.Query) == "":
		return protostar.Errorf(protostar.EINVALID, "query must not be empty or only white space")
	case len(q.Query) > MaxQueryLen:
		return protostar.Errorf(protostar.EINVALID, "query is longer than %d bytes", MaxQueryLen)
	case q.TopK < 1 || q.TopK > MaxTopK:
		return protostar.Errorf(protostar.EINVALID, "top_k must be between 1 and %d, got %d", MaxTopK, q.TopK)
	case q.Mode != protostar.SearchHybrid && q.Mode != protostar.SearchVector && q.Mode != protostar.SearchKeyword:
		return protostar.Errorf(protostar.EINVALID, "mode must be hybrid, vector or keyword, got %q", q.Mode)
	}
	return nil
}

// Search runs q and returns at most q.TopK hits, best first, each chunk
// once, reranked when a reranker is configured and answers.
func (s *Service) Search(ctx context.Context, q protostar.SearchQuery) (protostar.SearchResult, error) {
	if err := Validate(&q); err != nil {
		return protostar.SearchResult{}, err
	}
	k := q.TopK
	if s.cfg.Reranker != nil {
		k = max(k, min(s.cfg.RerankTopN, MaxTopK))
	}
	var (
		hits  []protostar.SearchHit
		space protostar.SpaceEmbedder
		err   error
	)
	if q.Mode != protostar.SearchKeyword {
		// Read once: a switch of spaces during the search does not mix them.
		if space, err = s.spaces.ForTenant(ctx, q.TenantID); err != nil {
			return protostar.SearchResult{}, fmt.Errorf("resolve the embedding space: %w", err)
		}
	}
	switch q.Mode {
	case protostar.SearchVector:
		hits, err = s.vector(ctx, space, q, k)
	case protostar.SearchKeyword:
		hits, err = s.keyword(ctx, q, k)
	default:
		hits, err = s.hybrid(ctx, space, q, k)
	}
	if err != nil {
		return protostar.SearchResult{}, err
	}
	res := protostar.SearchResult{Hits: hits}
	if s.cfg.Reranker != nil && len(hits) > 1 {
		res = s.rerank(ctx, q, hits)
	}
	res.Hits = res.Hits[:min(q.TopK, len(res.Hits))]
	res.Space = space.Space.ID
	finishExplain(q, res.Hits)
	return res, nil
}

func (s *Service) vector(ctx context.Context, space protostar.SpaceEmbedder, q protostar.SearchQuery, k int) ([]protostar.SearchHit, error) {
	vecs, err := space.Embedder.Embed(ctx, []string{q.Query})
	if err != nil {
		return nil, fmt.Errorf("embed query: %w", err)
	}
	hits, err := s.store.VectorSearch(ctx, space.Space, q.TenantID, vecs[0], q.Filter, k)
	for i := range hits {
		hits[i].Explain = &protostar.SearchExplain{VectorRank: i + 1, VectorScore: hits[i].Score, FusedScore: hits[i].Score}
	}
	return hits, err
}

func (s *Service) keyword(ctx context.Context, q protostar.SearchQuery, k int) ([]protostar.SearchHit, error) {
	hits, err := s.store.KeywordSearch(ctx, q.TenantID, QueryTerms(q.Query, s.cfg.BM25), q.Filter, k)
	for i := range hits {
		if hits[i].Explain == nil {
			hits[i].Explain = &protostar.SearchExplain{}
		}
		hits[i].Explain.KeywordRank, hits[i].Explain.FusedScore = i+1, hits[i].Score
	}
	return hits, err
}

// hybrid fuses both sides. A side of weight 0 only fills the list after
// the other's hits (see Fuse), so it is asked only when the other side
// found fewer than k: with the offline embedder's default weight, hybrid
// costs what keyword search costs.
func (s *Service) hybrid(ctx context.Context, space protostar.SpaceEmbedder, q protostar.SearchQuery, k int) ([]protostar.SearchHit, error) {
	n := min(k*hybridFactor, MaxTopK*hybridFactor)
	weights := []float64{s.cfg.VectorWeight, s.cfg.KeywordWeight}
	if s.cfg.VectorWeight == 0 {
		kHits, err := s.keyword(ctx, q, k)
		if err != nil || len(kHits) >= k {
			return Fuse(k, weights, nil, kHits), err
		}
		vHits, err := s.vector(ctx, space, q, n) // fewer than k: every keyword hit is in kHits
		return Fuse(k, weights, vHits, kHits), err
	}
	var (
		wg           sync.WaitGroup
		vHits, kHits []protostar.SearchHit
		vErr, kErr   error
	)
	wg.Go(func() {
		defer protostar.Recover(&vErr, "vector search")
		vHits, vErr = s.vector(ctx, space, q, n)
	})
	wg.Go(func() {
		defer protostar.Recover(&kErr, "keyword search")
		kHits, kErr = s.keyword(ctx, q, n)
	})
	wg.Wait()
	if vErr != nil {
		return nil, vErr
	}
	if kErr != nil {
		return nil, kErr
	}
	return Fuse(k, weights, vHits, kHits), nil
}

// Fuse merges ranked lists with weighted reciprocal-rank fusion: a chunk
// scores the sum of weight/(60+rank) over the lists it appears in (a
// missing weight is 1). Equal scores go to the chunk ranked better by a
// list of positive weight, then by any list, so a list of weight 0 only
// appends the chunks the others lack, in its own order. The result holds
// each chunk once, best first, at most k of them; the lists' Explain of a
// chunk are merged and FusedScore set.
func Fuse(k int, weights []float64, lists ...[]protostar.SearchHit) []protostar.SearchHit {
	type fused struct {
		hit            protostar.SearchHit
		score          float64
		weighted, rank int // best rank in a list of positive weight, in any list
	}
	byID := map[int64]*fused{}
	var order []*fused
	for l, list := range lists {
		w := 1.0
		if l < len(weights) {
			w = weights[l]
		}
		for rank, h := range list {
			f, ok := byID[h.ChunkID]
			if !ok {
				f = &fused{hit: h, weighted: math.MaxInt, rank: rank}
				f.hit.Explain = nil
				byID[h.ChunkID], order = f, append(order, f)
			}
			f.score += w / float64(rrfK+rank+1)
			f.rank = min(f.rank, rank)
			if w > 0 {
				f.weighted = min(f.weighted, rank)
			}
			f.hit.Explain = mergeExplain(f.hit.Explain, h.Explain)
		}
	}
	slices.SortStableFunc(order, func(a, b *fused) int {
		return cmp.Or(cmp.Compare(b.score, a.score), cmp.Compare(a.weighted, b.weighted),
			cmp.Compare(a.rank, b.rank), cmp.Compare(a.hit.ChunkID, b.hit.ChunkID))
	})
	out := make([]protostar.SearchHit, 0, min(k, len(order)))
	for _, f := range order[:min(k, len(order))] {
		f.hit.Score = f.score
		if f.hit.Explain != nil {
			f.hit.Explain.FusedScore = f.score
		}
		out = append(out, f.hit)
	}
	return out
}

// mergeExplain combines what two lists say about one hit.
func mergeExplain(a, b *protostar.SearchExplain) *protostar.SearchExplain {
	if b == nil {
		return a
	}
	if a == nil {
		c := *b
		return &c
	}
	a.VectorRank, a.VectorScore = cmp.Or(a.VectorRank, b.VectorRank), cmp.Or(a.VectorScore, b.VectorScore)
	a.KeywordRank, a.KeywordScore = cmp.Or(a.KeywordRank, b.KeywordRank), cmp.Or(a.KeywordScore, b.KeywordScore)
	a.PassageScore = cmp.Or(a.PassageScore, b.PassageScore)
	if a.MatchedTerms == nil {
		a.MatchedTerms = b.MatchedTerms
	}
	return a
}

// finishExplain drops Explain unless q asked for it, and otherwise fills
// the matched terms of hits the keyword side did not rank.
func finishExplain(q protostar.SearchQuery, hits []protostar.SearchHit) {
	var terms []string
	if q.Explain {
		terms = QueryTerms(q.Query, protostar.BM25{}).Terms
	}
	for i := range hits {
		switch e := hits[i].Explain; {
		case !q.Explain:
			hits[i].Explain = nil
		case e == nil:
			hits[i].Explain = &protostar.SearchExplain{FusedScore: hits[i].Score, MatchedTerms: matchedTerms(terms, hits[i])}
		case e.MatchedTerms == nil:
			e.MatchedTerms = matchedTerms(terms, hits[i])
		}
	}
}

// matchedTerms returns the query terms the hit's indexed text (its heading
// path and text, as ingest indexes them) holds, in query order; never nil.
func matchedTerms(terms []string, h protostar.SearchHit) []string {
	has := map[string]bool{}
	text := h.Text
	if len(h.HeadingPath) > 0 {
		text = strings.Join(h.HeadingPath, " > ") + "\n" + text
	}
	lexical.EachIndexTerm(text, func(t string) { has[t] = true })
	out := []string{}
	for _, t := range terms {
		if has[t] {
			out = append(out, t)
		}
	}
	return out
}

// QueryTerms turns a query into its distinct index terms (see
// lexical.EachIndexTerm) in order of first appearance, at most maxTerms of
// them so that a huge query cannot build a huge statement. A term weighs
// as often as it occurs, except the last bigram of a Korean word that ends
// in a one-syllable particle (임종석이 → 석이, 시위를 → 위를), which weighs
// particleWeight: it names the particle more than the word, and counting
// it fully favours chunks that repeat the particle after anything.
func QueryTerms(q string, bm25 protostar.BM25) protostar.KeywordQuery {
	kq := protostar.KeywordQuery{BM25: bm25}
	at := map[string]int{}
	var word []string
	for _, field := range strings.Fields(q) {
		word = word[:0]
		lexical.EachIndexTerm(field, func(t string) { word = append(word, t) })
		for i, t := range word {
			w := 1.0
			if i == len(word)-1 && i > 0 && endsInParticle(t) {
				w = particleWeight
			}
			if j, ok := at[t]; ok {
				kq.Weights[j] += w
				continue
			}
			if len(kq.Terms) < maxTerms {
				at[t] = len(kq.Terms)
				kq.Terms = append(kq.Terms, strings.Clone(t))
				kq.Weights = append(kq.Weights, w)
			}
		}
	}
	return kq
}

// particleWeight is the weight of a Korean word's particle bigram. On the
// development set (docs/benchmarks.md) it raised R@1 by 0.006 at 0.5,
// against 0.004 at 0.25 and none at 0 or 1.
const particleWeight = 0.5

// endsInParticle reports whether t is a Hangul bigram whose second
// syllable is a common one-syllable particle.
func endsInParticle(t string) bool {
	first, n := utf8.DecodeRuneInString(t)
	second, m := utf8.DecodeRuneInString(t[n:])
	if n+m != len(t) || first < 0xAC00 || first > 0xD7A3 {
		return false
	}
	return strings.ContainsRune("이가을를은는의에로와과도만", second)
}
