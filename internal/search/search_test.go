package search

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

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
		name  string
		k     int
		lists [][]protostar.SearchHit
		want  []int64
	}{
		{"agreement wins", 3, [][]protostar.SearchHit{hits(1, 2, 3), hits(3, 1, 4)}, []int64{1, 3, 2}},
		{"dedup and cut", 2, [][]protostar.SearchHit{hits(5, 6), hits(6, 5)}, []int64{5, 6}},
		{"one empty list", 5, [][]protostar.SearchHit{hits(7, 8), nil}, []int64{7, 8}},
		{"both empty", 5, nil, []int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, ids(Fuse(tt.k, tt.lists...))); diff != "" {
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

func TestQueryWords(t *testing.T) {
	t.Parallel()
	tests := []struct {
		q    string
		want [][]string
	}{
		{"", nil},
		{"  !!  ", nil},
		{"해시 해시를 Index index", [][]string{{"해시"}, {"해시", "시를"}, {"index"}}},
		{"데이터베이스를", [][]string{{"데이", "이터", "터베", "베이", "이스", "스를"}}},
	}
	for _, tt := range tests {
		if got := QueryWords(tt.q); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("QueryWords(%q) = %q, want %q", tt.q, got, tt.want)
		}
	}
	var long []string
	for i := range 100 {
		long = append(long, fmt.Sprint("w", i), "repeated")
	}
	n := 0
	for _, w := range QueryWords(strings.Join(long, " ")) {
		n += len(w)
	}
	if n != maxTerms {
		t.Errorf("a 101-word query has %d terms, want %d", n, maxTerms)
	}
}

func TestExplain(t *testing.T) {
	t.Parallel()
	scored := func(id int64, score float64, text string) protostar.SearchHit {
		return protostar.SearchHit{ChunkID: id, Score: score, Text: text}
	}
	vec := []protostar.SearchHit{scored(1, 0.9, "데이터베이스를 튜닝한다"), scored(2, 0.8, "backup nightly")}
	kw := []protostar.SearchHit{scored(2, 0.5, "backup nightly"), scored(3, 0.4, "Backup 데이터")}
	tests := []struct {
		name  string
		query string
		hits  []protostar.SearchHit
		v, k  []protostar.SearchHit
		want  map[int64]protostar.SearchExplain
	}{
		{"hybrid: both sides and bigrams", "데이터베이스 backup", Fuse(3, vec, kw), vec, kw, map[int64]protostar.SearchExplain{
			1: {VectorRank: 1, VectorScore: 0.9, FusedScore: 1.0 / 61, MatchedTerms: []string{"데이", "이터", "터베", "베이", "이스"}},
			2: {VectorRank: 2, VectorScore: 0.8, KeywordRank: 1, KeywordScore: 0.5, FusedScore: 1.0/61 + 1.0/62, MatchedTerms: []string{"backup"}},
			3: {KeywordRank: 2, KeywordScore: 0.4, FusedScore: 1.0 / 62, MatchedTerms: []string{"데이", "이터", "backup"}},
		}},
		{"no match is an empty list", "zebra", []protostar.SearchHit{scored(1, 0.9, "데이터베이스를 튜닝한다")}, nil, nil, map[int64]protostar.SearchExplain{
			1: {FusedScore: 0.9, MatchedTerms: []string{}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := map[int64]protostar.SearchExplain{}
			for _, h := range Explain(tt.query, tt.hits, tt.v, tt.k) {
				got[h.ChunkID] = *h.Explain
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateApprox(0, 1e-12)); diff != "" {
				t.Errorf("Explain (-want +got):\n%s", diff)
			}
		})
	}
}
