package postgres

import (
	"math"
	"slices"
	"testing"

	"github.com/protostar/protostar"
)

func TestEfSearchTellsLexicalQueries(t *testing.T) {
	t.Parallel()
	dense := make([]float32, 384)
	for i := range dense {
		dense[i] = 0.05
	}
	sparse := make([]float32, 384)
	for i := 0; i < 20; i++ {
		sparse[i*7] = 0.2
	}
	learned := protostar.EmbeddingSpace{SpaceSpec: protostar.SpaceSpec{Provider: "openai", Model: "text-embedding-3-small", Dimensions: 384}}
	hash := protostar.EmbeddingSpace{SpaceSpec: protostar.SpaceSpec{Provider: "hash", Model: "hash-v2-dense", Dimensions: 384}}
	tests := []struct {
		name        string
		space       protostar.EmbeddingSpace
		vec         []float32
		k           int
		want        int
		wantLexical bool
	}{
		{"dense, small k", learned, dense, 10, 64, false},
		{"dense, large k", learned, dense, 300, 600, false},
		{"dense, k beyond the maximum", learned, dense, 900, 1000, false},
		{"sparse", learned, sparse, 10, 64, true},
		{"hash space, dense vector", hash, dense, 10, 64, true},
		{"hash space, sparse vector", hash, sparse, 10, 64, true},
	}
	for _, tt := range tests {
		if got, lexical := efSearch(tt.space, tt.vec, tt.k); got != tt.want || lexical != tt.wantLexical {
			t.Errorf("%s: efSearch = %d, %v; want %d, %v", tt.name, got, lexical, tt.want, tt.wantLexical)
		}
	}
}

func TestKeywordPlanOrdersRarestFirst(t *testing.T) {
	t.Parallel()
	q := protostar.KeywordQuery{Terms: []string{"common", "rare", "new", "mid"}, Weights: []float64{1, 1, 2, 1},
		BM25: protostar.BM25{K1: 1.2, B: 0.75}}
	mid := int64(keywordFirstRound / 2)
	st := termStats{chunks: 10000, avgLen: 100, df: []int64{9000, 3, 0, mid}}
	p := planKeyword(q, st)
	if want := []string{"new", "rare", "mid", "common"}; !slices.Equal(p.terms, want) {
		t.Fatalf("terms = %q, want %q (a term the statistics do not know yet counts as rare)", p.terms, want)
	}
	if want := []int64{1, 4, 4 + mid, 9004 + mid}; !slices.Equal(p.cum, want) {
		t.Fatalf("cumulative postings = %v, want %v", p.cum, want)
	}
	if p.weights[0] <= p.weights[1] || p.weights[1] <= p.weights[2] || p.weights[2] <= p.weights[3] {
		t.Fatalf("weights = %v, want falling with document frequency (and doubled for a repeated term)", p.weights)
	}
	// The first round takes every term within keywordFirstRound postings,
	// the next at least doubles them.
	if e := p.nextRound(0); e != 3 {
		t.Errorf("first round takes %d terms, want 3", e)
	}
	if e := p.nextRound(3); e != 4 {
		t.Errorf("second round takes %d terms, want 4", e)
	}
	hit := func(score float64) []scoredChunk { return []scoredChunk{{score: score}} }
	rest := p.bounds[3]
	if p.exact(3, hit(rest-0.01), 1) || !p.exact(3, hit(rest), 1) || p.exact(3, nil, 1) {
		t.Errorf("exact: the k-th score must reach the bound of the terms not ranked (%v)", rest)
	}
}

// TestScoreReadsFilteredTSVector checks the Go side of a keyword round:
// the filtered tsvector's positions give each term's frequency, a term
// stored without positions counts once, terms outside the query are
// ignored, and the score is the BM25 sum over the terms held.
func TestScoreReadsFilteredTSVector(t *testing.T) {
	t.Parallel()
	bm := protostar.BM25{K1: 1.2, B: 0.75}
	q := protostar.KeywordQuery{Terms: []string{"백업", "index"}, Weights: []float64{1, 1}, BM25: bm}
	p := planKeyword(q, termStats{chunks: 100, avgLen: 20, df: []int64{5, 50}})
	tests := []struct {
		vec     string
		tf      map[string]int
		matched []string
	}{
		{vec: "", tf: nil, matched: nil},
		{vec: "'백업':1A,4A,9A", tf: map[string]int{"백업": 3}, matched: []string{"백업"}},
		{vec: "'index':2A '백업':7A", tf: map[string]int{"백업": 1, "index": 1}, matched: []string{"백업", "index"}},
		{vec: "'index' 'other':3A", tf: map[string]int{"index": 1}, matched: []string{"index"}},
	}
	for _, tt := range tests {
		got := p.score(7, 30, tt.vec, make([]int, len(p.terms)))
		want := 0.0
		for term, tf := range tt.tf {
			i := p.index[term]
			want += p.weights[i] * bm.TF(tf, 30, 20)
		}
		if math.Abs(got.score-want) > 1e-12 || !slices.Equal(p.matchedTerms(got.vec), tt.matched) || got.id != 7 {
			t.Errorf("score(%q) = %v %q, want %v %q", tt.vec, got.score, p.matchedTerms(got.vec), want, tt.matched)
		}
	}
}
