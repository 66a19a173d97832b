package search

import (
	"context"
	"slices"
	"strings"

	"github.com/protostar/protostar"
)

// Reranker scores documents against a query, higher is more relevant:
// scores[i] belongs to docs[i]. It bounds its own time.
type Reranker interface {
	Rerank(ctx context.Context, query string, docs []string) (scores []float64, err error)
}

// rerank reorders the first RerankTopN hits by the reranker's scores,
// which become their Score; the rest keep their place and fused score
// after them. When the reranker fails, the hits keep
// the fused order and the result says so: search degrades, never fails,
// for a reranker's sake.
func (s *Service) rerank(ctx context.Context, q protostar.SearchQuery, hits []protostar.SearchHit) protostar.SearchResult {
	n := min(len(hits), s.cfg.RerankTopN)
	docs := make([]string, n)
	for i, h := range hits[:n] {
		docs[i] = h.Text
		if len(h.HeadingPath) > 0 {
			docs[i] = strings.Join(h.HeadingPath, " > ") + "\n" + h.Text
		}
	}
	scores, err := s.cfg.Reranker.Rerank(ctx, q.Query, docs)
	if err == nil && len(scores) != n {
		err = protostar.Errorf(protostar.EUNAVAILABLE, "reranker returned %d scores for %d documents", len(scores), n)
	}
	if err != nil {
		s.logger.WarnContext(ctx, "reranker unavailable; keeping the fused order", "error", err)
		return protostar.SearchResult{Hits: hits, Rerank: protostar.RerankUnavailable}
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case scores[a] > scores[b]:
			return -1
		case scores[a] < scores[b]:
			return 1
		}
		return 0
	})
	out := make([]protostar.SearchHit, 0, len(hits))
	for _, i := range idx {
		h := hits[i]
		h.Score = scores[i]
		if h.Explain != nil {
			e := *h.Explain
			e.FusedScore = h.Score // the score the hit is now ordered by
			h.Explain = &e
		}
		out = append(out, h)
	}
	out = append(out, hits[n:]...)
	return protostar.SearchResult{Hits: out, Rerank: protostar.RerankDone}
}
