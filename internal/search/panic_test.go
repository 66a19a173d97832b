package search

import (
	"context"
	"testing"

	"github.com/protostar/protostar"
)

// panickyStore panics in the keyword half, as a bug in a store might.
type panickyStore struct{}

func (panickyStore) VectorSearch(context.Context, protostar.EmbeddingSpace, string, []float32, protostar.SearchFilter, int) ([]protostar.SearchHit, error) {
	return nil, nil
}

func (panickyStore) KeywordSearch(context.Context, string, protostar.KeywordQuery, protostar.SearchFilter, int) ([]protostar.SearchHit, error) {
	panic("index out of range")
}

type oneVector struct{}

func (oneVector) ForTenant(context.Context, string) (protostar.SpaceEmbedder, error) {
	return protostar.SpaceEmbedder{Space: protostar.EmbeddingSpace{ID: 1, SpaceSpec: protostar.SpaceSpec{Dimensions: 1}}, Embedder: oneVector{}}, nil
}

func (oneVector) Model() string   { return "one" }
func (oneVector) Dimensions() int { return 1 }

func (oneVector) Embed(_ context.Context, texts []string) ([][]float32, error) {
	return [][]float32{{1}}, nil
}

// TestHybridPanicFailsTheRequest: a panic in one of hybrid search's
// goroutines becomes an internal error of that request. It used to kill
// the process (no handler can recover another goroutine's panic).
func TestHybridPanicFailsTheRequest(t *testing.T) {
	t.Parallel()
	s := New(panickyStore{}, oneVector{}, Config{})
	_, err := s.Search(context.Background(), protostar.SearchQuery{TenantID: "t", Query: "x", Mode: protostar.SearchHybrid})
	if protostar.ErrorCode(err) != protostar.EINTERNAL || protostar.ErrorMessage(err) != "internal error" {
		t.Fatalf("err = %v, want an internal error", err)
	}
}
