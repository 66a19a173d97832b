package protostar_test

import (
	"math"
	"testing"

	"github.com/protostar/protostar"
)

// TF with a length floor scores a chunk shorter than the floor as if it
// were that long, and is plain BM25 from the floor up and at floor 0.
func TestBM25LengthFloor(t *testing.T) {
	plain := protostar.BM25{K1: 1.2, B: 0.75}
	floored := plain
	floored.LengthFloor = 1
	bm25 := func(tf, n int, avg float64) float64 { // the textbook formula
		return float64(tf) * 2.2 / (float64(tf) + 1.2*(0.25+0.75*float64(n)/avg))
	}
	tests := []struct {
		name   string
		bm     protostar.BM25
		tf, n  int
		avg    float64
		scored int // the length the score is computed for
	}{
		{"plain, short", plain, 2, 10, 100, 10},
		{"plain, long", plain, 2, 300, 100, 300},
		{"floored, short", floored, 2, 10, 100, 100},
		{"floored, at the floor", floored, 2, 100, 100, 100},
		{"floored, long", floored, 2, 300, 100, 300},
		{"half floor, short", protostar.BM25{K1: 1.2, B: 0.75, LengthFloor: 0.5}, 1, 20, 100, 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, want := tt.bm.TF(tt.tf, tt.n, tt.avg), bm25(tt.tf, tt.scored, tt.avg)
			if math.Abs(got-want) > 1e-12 {
				t.Fatalf("TF(%d, %d, %g) = %g, want %g", tt.tf, tt.n, tt.avg, got, want)
			}
			if got >= tt.bm.MaxTF() {
				t.Fatalf("TF %g not below MaxTF %g", got, tt.bm.MaxTF())
			}
		})
	}
}
