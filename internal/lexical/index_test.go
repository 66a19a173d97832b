package lexical

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestIndexTerms(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"plural finds singular", "indexes", []string{"index"}},
		{"inflections share a stem", "Indexing indexed INDEX", []string{"index", "index", "index"}},
		{"stop words dropped", "the state of the art", []string{"state", "art"}},
		{"words with digits stay whole", "utf8 v2 running", []string{"utf8", "v2", "run"}},
		{"korean bigrams unchanged", "데이터베이스를", []string{"데이", "이터", "터베", "베이", "이스", "스를"}},
		{"mixed", "PostgreSQL의 indexes 튜닝", []string{"postgresql", "의", "index", "튜닝"}},
		{"only stop words", "the of and", nil},
		{"other scripts unchanged", "Größe café", []string{"größe", "café"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, IndexTerms(tt.in)); diff != "" {
				t.Errorf("IndexTerms(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func BenchmarkEachIndexTerm(b *testing.B) {
	text := strings.Repeat("우리는 데이터베이스를 PostgreSQL에서 튜닝했다. The index and the query cache are fast. ", 30)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		EachIndexTerm(text, func(string) {})
	}
}
