package search_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/rerank"
	"github.com/protostar/protostar/internal/search"
	"github.com/protostar/protostar/internal/testenv"
)

// listStore answers every keyword search with its hits, in order.
type listStore struct{ hits []protostar.SearchHit }

func (s listStore) VectorSearch(context.Context, protostar.EmbeddingSpace, string, []float32, protostar.SearchFilter, int) ([]protostar.SearchHit, error) {
	return nil, nil
}

func (s listStore) KeywordSearch(_ context.Context, _ string, q protostar.KeywordQuery, _ protostar.SearchFilter, k int) ([]protostar.SearchHit, error) {
	out := make([]protostar.SearchHit, 0, k)
	for i, h := range s.hits[:min(k, len(s.hits))] {
		h.Score = float64(len(s.hits) - i)
		h.Explain = &protostar.SearchExplain{KeywordScore: h.Score, MatchedTerms: q.Terms}
		out = append(out, h)
	}
	return out, nil
}

// reranker is a rerank endpoint preferring documents that contain
// "relevant"; down makes it fail.
func reranker(t *testing.T, down bool) string {
	t.Helper()
	r := testenv.NewReranker(t, "relevant")
	r.Down.Store(down)
	return r.URL
}

func TestRerankStage(t *testing.T) {
	t.Parallel()
	store := listStore{hits: []protostar.SearchHit{
		{ChunkID: 1, Text: "first by keyword"},
		{ChunkID: 2, Text: "relevant relevant"},
		{ChunkID: 3, Text: "relevant"},
		{ChunkID: 4, Text: "beyond the rerank window, relevant relevant relevant"},
	}}
	tests := []struct {
		name   string
		down   bool
		want   []int64
		rerank string
	}{
		{"reorders the top n", false, []int64{2, 3, 1, 4}, protostar.RerankDone},
		{"down: fused order, said so", true, []int64{1, 2, 3, 4}, protostar.RerankUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc := search.New(store, fixedSpace{}, search.Config{RerankTopN: 3,
				Reranker: rerank.New(rerank.Config{URL: reranker(t, tt.down), Timeout: time.Second}, nil)})
			res, err := svc.Search(context.Background(), protostar.SearchQuery{TenantID: "t", Query: "relevant",
				Mode: protostar.SearchKeyword, TopK: 4, Explain: true})
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, h := range res.Hits {
				got = append(got, h.ChunkID)
				if h.Explain == nil || h.Explain.FusedScore != h.Score || h.Explain.KeywordRank == 0 {
					t.Errorf("hit %d explain = %+v, score %v", h.ChunkID, h.Explain, h.Score)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" || res.Rerank != tt.rerank {
				t.Fatalf("order (-want +got):\n%s\nrerank = %q, want %q", diff, res.Rerank, tt.rerank)
			}
		})
	}
}

func TestExplainOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	store := listStore{hits: []protostar.SearchHit{{ChunkID: 1, Text: "데이터베이스 튜닝"}, {ChunkID: 2, Text: "other"}}}
	svc := search.New(store, fixedSpace{}, search.Config{})
	for _, explain := range []bool{false, true} {
		res, err := svc.Search(context.Background(), protostar.SearchQuery{TenantID: "t", Query: "데이터베이스",
			Mode: protostar.SearchKeyword, Explain: explain})
		if err != nil {
			t.Fatal(err)
		}
		for i, h := range res.Hits {
			switch {
			case !explain && h.Explain != nil:
				t.Errorf("explain not asked for, got %+v", h.Explain)
			case explain && (h.Explain == nil || h.Explain.KeywordRank != i+1 || h.Explain.FusedScore != h.Score ||
				h.Explain.MatchedTerms == nil):
				t.Errorf("hit %d: explain = %+v", i, h.Explain)
			}
		}
	}
}
