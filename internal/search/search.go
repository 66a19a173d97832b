// Package search answers a tenant's queries over its indexed chunks: vector
// search on the HNSW index, Korean-aware keyword search, or both fused with
// reciprocal-rank fusion (hybrid, the default).
package search

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/lexical"
)

// Store runs the two retrieval queries. Both only ever return the tenant's
// own chunks of active document versions.
type Store interface {
	VectorSearch(ctx context.Context, tenantID string, vec []float32, f protostar.SearchFilter, k int) ([]protostar.SearchHit, error)
	KeywordSearch(ctx context.Context, tenantID string, words [][]string, f protostar.SearchFilter, k int) ([]protostar.SearchHit, error)
}

// Embedder embeds the query; it must be the one that embedded the chunks.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
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

// Service runs searches.
type Service struct {
	store    Store
	embedder Embedder
}

// New returns a search service.
func New(store Store, embedder Embedder) *Service {
	return &Service{store: store, embedder: embedder}
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

// Search runs q and returns at most q.TopK hits, best first, each chunk once.
func (s *Service) Search(ctx context.Context, q protostar.SearchQuery) ([]protostar.SearchHit, error) {
	if err := Validate(&q); err != nil {
		return nil, err
	}
	var (
		hits, vHits, kHits []protostar.SearchHit
		err                error
	)
	switch q.Mode {
	case protostar.SearchVector:
		vHits, err = s.vector(ctx, q, q.TopK)
		hits = vHits
	case protostar.SearchKeyword:
		kHits, err = s.store.KeywordSearch(ctx, q.TenantID, QueryWords(q.Query), q.Filter, q.TopK)
		hits = kHits
	default:
		hits, vHits, kHits, err = s.hybrid(ctx, q)
	}
	if err != nil || !q.Explain {
		return hits, err
	}
	return Explain(q.Query, hits, vHits, kHits), nil
}

func (s *Service) vector(ctx context.Context, q protostar.SearchQuery, k int) ([]protostar.SearchHit, error) {
	vecs, err := s.embedder.Embed(ctx, []string{q.Query})
	if err != nil {
		return nil, fmt.Errorf("embed query: %w", err)
	}
	return s.store.VectorSearch(ctx, q.TenantID, vecs[0], q.Filter, k)
}

// hybrid returns the fused hits and the two lists they were fused from.
func (s *Service) hybrid(ctx context.Context, q protostar.SearchQuery) (fused, vHits, kHits []protostar.SearchHit, err error) {
	k := min(q.TopK*hybridFactor, MaxTopK*hybridFactor)
	var (
		wg         sync.WaitGroup
		vErr, kErr error
	)
	wg.Go(func() {
		defer protostar.Recover(&vErr, "vector search")
		vHits, vErr = s.vector(ctx, q, k)
	})
	wg.Go(func() {
		defer protostar.Recover(&kErr, "keyword search")
		kHits, kErr = s.store.KeywordSearch(ctx, q.TenantID, QueryWords(q.Query), q.Filter, k)
	})
	wg.Wait()
	if vErr != nil {
		return nil, nil, nil, vErr
	}
	if kErr != nil {
		return nil, nil, nil, kErr
	}
	return Fuse(q.TopK, vHits, kHits), vHits, kHits, nil
}

// Explain fills each hit's Explain from the vector and keyword lists it
// was ranked from (either may be nil, in single-mode searches): its 1-based
// rank and score on each side, the score it is ordered by, and the query's
// terms found in its text.
func Explain(query string, hits, vHits, kHits []protostar.SearchHit) []protostar.SearchHit {
	type side struct {
		rank  int
		score float64
	}
	index := func(list []protostar.SearchHit) map[int64]side {
		m := make(map[int64]side, len(list))
		for i, h := range list {
			if _, ok := m[h.ChunkID]; !ok {
				m[h.ChunkID] = side{i + 1, h.Score}
			}
		}
		return m
	}
	vec, kw := index(vHits), index(kHits)
	var terms []string
	for _, w := range QueryWords(query) {
		for _, t := range w {
			if !slices.Contains(terms, t) {
				terms = append(terms, t)
			}
		}
	}
	for i := range hits {
		h := &hits[i]
		e := &protostar.SearchExplain{FusedScore: h.Score, MatchedTerms: MatchedTerms(terms, h.Text)}
		if v, ok := vec[h.ChunkID]; ok {
			e.VectorRank, e.VectorScore = v.rank, v.score
		}
		if k, ok := kw[h.ChunkID]; ok {
			e.KeywordRank, e.KeywordScore = k.rank, k.score
		}
		h.Explain = e
	}
	return hits
}

// MatchedTerms returns those of terms (index terms, see package lexical)
// that text contains as index terms, in the order of terms; never nil.
func MatchedTerms(terms []string, text string) []string {
	have := map[string]bool{}
	lexical.EachTerm(text, func(t string) { have[t] = true })
	out := []string{}
	for _, t := range terms {
		if have[t] {
			out = append(out, t)
		}
	}
	return out
}

// Fuse merges ranked lists with reciprocal-rank fusion: a chunk scores
// the sum of 1/(60+rank) over the lists it appears in. The result holds
// each chunk once, best first, at most k of them.
func Fuse(k int, lists ...[]protostar.SearchHit) []protostar.SearchHit {
	scores := map[int64]float64{}
	first := map[int64]protostar.SearchHit{}
	for _, list := range lists {
		for rank, h := range list {
			scores[h.ChunkID] += 1 / float64(rrfK+rank+1)
			if _, ok := first[h.ChunkID]; !ok {
				first[h.ChunkID] = h
			}
		}
	}
	out := make([]protostar.SearchHit, 0, len(first))
	for id, h := range first {
		h.Score = scores[id]
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b protostar.SearchHit) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.ChunkID, b.ChunkID)
	})
	return out[:min(k, len(out))]
}

// QueryWords splits a query into its words, each given as its distinct
// terms (see package lexical), leaving out repeated words, with at most
// maxTerms terms in all so that a huge query cannot build a huge tsquery.
func QueryWords(q string) [][]string {
	seen := map[string]bool{}
	var words [][]string
	n := 0
	for _, field := range strings.Fields(q) {
		var w []string
		lexical.EachTerm(field, func(t string) {
			if n < maxTerms && !slices.Contains(w, t) {
				w = append(w, t)
				n++
			}
		})
		key := strings.Join(w, " ")
		if len(w) == 0 || seen[key] {
			n -= len(w)
			continue
		}
		seen[key] = true
		words = append(words, w)
	}
	return words
}
