package search_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/search"
)

// twoSides returns fixed vector hits and keyword hits.
type twoSides struct{ vec, kw []protostar.SearchHit }

func (s twoSides) VectorSearch(context.Context, protostar.EmbeddingSpace, string, []float32, protostar.SearchFilter, int) ([]protostar.SearchHit, error) {
	return append([]protostar.SearchHit(nil), s.vec...), nil
}

func (s twoSides) KeywordSearch(_ context.Context, _ string, _ protostar.KeywordQuery, _ protostar.SearchFilter, _ int) ([]protostar.SearchHit, error) {
	out := make([]protostar.SearchHit, len(s.kw))
	for i, h := range s.kw {
		e := *h.Explain
		h.Explain = &e
		out[i] = h
	}
	return out, nil
}

type unitEmbedder struct{}

func (unitEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	return [][]float32{{1}}, nil
}

func TestHybridExplainsBothSides(t *testing.T) {
	t.Parallel()
	store := twoSides{
		vec: []protostar.SearchHit{{ChunkID: 2, Score: 0.9, Text: "index tuning"}, {ChunkID: 1, Score: 0.8, Text: "데이터베이스 indexes"}},
		kw: []protostar.SearchHit{{ChunkID: 1, Score: 7.5, Text: "데이터베이스 indexes",
			Explain: &protostar.SearchExplain{KeywordScore: 7.5, MatchedTerms: []string{"데이", "index"}}}},
	}
	svc := search.New(store, fixedSpace{unitEmbedder{}}, search.Config{VectorWeight: 0.5, KeywordWeight: 1})
	res, err := svc.Search(context.Background(), protostar.SearchQuery{TenantID: "t", Query: "데이터 indexing", Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []*protostar.SearchExplain{
		{VectorRank: 2, KeywordRank: 1, VectorScore: 0.8, KeywordScore: 7.5, FusedScore: 0.5/62 + 1.0/61, MatchedTerms: []string{"데이", "index"}},
		{VectorRank: 1, VectorScore: 0.9, FusedScore: 0.5 / 61, MatchedTerms: []string{"index"}},
	}
	var got []*protostar.SearchExplain
	for _, h := range res.Hits {
		got = append(got, h.Explain)
		if h.Score != h.Explain.FusedScore {
			t.Errorf("hit %d: score %v, fused score %v", h.ChunkID, h.Score, h.Explain.FusedScore)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("explain (-want +got):\n%s", diff)
	}
}

// countingEmbedder counts the queries it embeds.
type countingEmbedder struct{ n *int }

func (e countingEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	*e.n++
	return [][]float32{{1}}, nil
}

// TestZeroVectorWeightAsksVectorsOnlyToFill: with the vector side weighed
// 0, hybrid is keyword search, and vectors only add what it lacks.
func TestZeroVectorWeightAsksVectorsOnlyToFill(t *testing.T) {
	t.Parallel()
	kw := []protostar.SearchHit{{ChunkID: 1, Explain: &protostar.SearchExplain{}}, {ChunkID: 2, Explain: &protostar.SearchExplain{}}}
	vec := []protostar.SearchHit{{ChunkID: 3, Score: 0.9}, {ChunkID: 2, Score: 0.5}}
	for _, tt := range []struct {
		topK   int
		want   []int64
		embeds int
	}{{2, []int64{1, 2}, 0}, {3, []int64{1, 2, 3}, 1}} {
		embeds := 0
		svc := search.New(twoSides{vec: vec, kw: kw}, fixedSpace{countingEmbedder{&embeds}}, search.Config{VectorWeight: 0, KeywordWeight: 1})
		res, err := svc.Search(context.Background(), protostar.SearchQuery{TenantID: "t", Query: "q", TopK: tt.topK})
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, h := range res.Hits {
			got = append(got, h.ChunkID)
		}
		if !cmp.Equal(got, tt.want) || embeds != tt.embeds {
			t.Errorf("top %d: hits %v, %d vector searches; want %v, %d", tt.topK, got, embeds, tt.want, tt.embeds)
		}
	}
}

// fixedSpace is one embedding space whose queries e embeds.
type fixedSpace struct {
	e interface {
		Embed(context.Context, []string) ([][]float32, error)
	}
}

func (f fixedSpace) ForTenant(context.Context, string) (protostar.SpaceEmbedder, error) {
	return protostar.SpaceEmbedder{Space: protostar.EmbeddingSpace{ID: 1, SpaceSpec: protostar.SpaceSpec{Dimensions: 1}}, Embedder: f}, nil
}

func (f fixedSpace) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if f.e == nil {
		return [][]float32{{1}}, nil
	}
	return f.e.Embed(ctx, texts)
}
func (fixedSpace) Model() string   { return "fixed" }
func (fixedSpace) Dimensions() int { return 1 }
