package postgres

import (
	"slices"
	"testing"
)

func TestEfSearchTellsSparseQueries(t *testing.T) {
	t.Parallel()
	dense := make([]float32, 384)
	for i := range dense {
		dense[i] = 0.05
	}
	sparse := make([]float32, 384)
	for i := 0; i < 20; i++ {
		sparse[i*7] = 0.2
	}
	tests := []struct {
		name       string
		vec        []float32
		k          int
		want       int
		wantSparse bool
	}{
		{"dense, small k", dense, 10, 64, false},
		{"dense, large k", dense, 300, 600, false},
		{"dense, k beyond the maximum", dense, 900, 1000, false},
		{"sparse", sparse, 10, 64, true},
	}
	for _, tt := range tests {
		if got, sparse := efSearch(tt.vec, tt.k); got != tt.want || sparse != tt.wantSparse {
			t.Errorf("%s: efSearch = %d, %v; want %d, %v", tt.name, got, sparse, tt.want, tt.wantSparse)
		}
	}
}

func TestKeywordTiers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		words [][]string
		want  []string
	}{
		{nil, nil},
		{[][]string{{"index"}}, []string{"index"}},
		{[][]string{{"index"}, {"vacuum"}}, []string{"index & vacuum", "index | vacuum"}},
		{[][]string{{"설정", "정을"}, {"index"}}, []string{"설정 & 정을 & index", "(설정) & (index)", "설정 | 정을 | index"}},
	}
	for _, tt := range tests {
		if got := keywordTiers(tt.words); !slices.Equal(got, tt.want) {
			t.Errorf("keywordTiers(%q) = %q, want %q", tt.words, got, tt.want)
		}
	}
}
