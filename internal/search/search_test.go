package search

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/protostar/protostar"
)

func hits(ids ...int64) []protostar.SearchHit {
	out := make([]protostar.SearchHit, len(ids))
	for i, id := range ids {
		out[i] = protostar.SearchHit{ChunkID: id}
	}
	return out
}

func ids(hs []protostar.SearchHit) []int64 {
	out := make([]int64, len(hs))
	for i, h := range hs {
		out[i] = h.ChunkID
	}
	return out
}

func TestFuse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		k       int
		weights []float64
		lists   [][]protostar.SearchHit
		want    []int64
	}{
		{"agreement wins", 3, nil, [][]protostar.SearchHit{hits(1, 2, 3), hits(3, 1, 4)}, []int64{1, 3, 2}},
		{"dedup and cut", 2, nil, [][]protostar.SearchHit{hits(5, 6), hits(6, 5)}, []int64{5, 6}},
		{"one empty list", 5, nil, [][]protostar.SearchHit{hits(7, 8), nil}, []int64{7, 8}},
		{"both empty", 5, nil, nil, []int64{}},
		{"zero weight keeps the other order and appends", 4, []float64{0, 1},
			[][]protostar.SearchHit{hits(9, 3, 8), hits(3, 2, 1)}, []int64{3, 2, 1, 9}},
		{"a light side breaks near ties only", 3, []float64{0.2, 1},
			[][]protostar.SearchHit{hits(2, 1), hits(1, 2, 3)}, []int64{1, 2, 3}},
		{"a heavy side decides", 3, []float64{3, 1},
			[][]protostar.SearchHit{hits(2, 1), hits(1, 2, 3)}, []int64{2, 1, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, ids(Fuse(tt.k, tt.weights, tt.lists...))); diff != "" {
				t.Errorf("Fuse (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		q    protostar.SearchQuery
		ok   bool
	}{
		{"defaults", protostar.SearchQuery{Query: "x"}, true},
		{"white space only", protostar.SearchQuery{Query: " \t\n\u3000"}, false},
		{"empty", protostar.SearchQuery{}, false},
		{"top_k high", protostar.SearchQuery{Query: "x", TopK: 101}, false},
		{"top_k negative", protostar.SearchQuery{Query: "x", TopK: -1}, false},
		{"bad mode", protostar.SearchQuery{Query: "x", Mode: "fuzzy"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Validate(&tt.q)
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && protostar.ErrorCode(err) != protostar.EINVALID {
				t.Fatalf("code = %s, want invalid", protostar.ErrorCode(err))
			}
		})
	}
}

func TestQueryTerms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		q       string
		terms   []string
		weights []float64
	}{
		{"", nil, nil},
		{"  !!  ", nil, nil},
		{"해시 해시를 Indexes index the", []string{"해시", "시를", "index"}, []float64{2, 0.5, 2}},
		{"데이터베이스를", []string{"데이", "이터", "터베", "베이", "이스", "스를"}, []float64{1, 1, 1, 1, 1, 0.5}},
		{"날은? 서울", []string{"날은", "서울"}, []float64{1, 1}}, // a word of one bigram keeps it whole
	}
	for _, tt := range tests {
		got := QueryTerms(tt.q, protostar.BM25{})
		if !reflect.DeepEqual(got.Terms, tt.terms) || !reflect.DeepEqual(got.Weights, tt.weights) {
			t.Errorf("QueryTerms(%q) = %q %v, want %q %v", tt.q, got.Terms, got.Weights, tt.terms, tt.weights)
		}
	}
	var long []string
	for i := range 100 {
		long = append(long, fmt.Sprint("w", i), "repeated")
	}
	if n := len(QueryTerms(strings.Join(long, " "), protostar.BM25{}).Terms); n != maxTerms {
		t.Errorf("a 101-word query has %d terms, want %d", n, maxTerms)
	}
}
