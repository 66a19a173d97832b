package postgres

import (
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
