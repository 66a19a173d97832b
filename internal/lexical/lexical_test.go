package lexical

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTerms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"english", "Hello, World! x 42", []string{"hello", "world", "42"}},
		{"korean bigrams", "데이터베이스를", []string{"데이", "이터", "터베", "베이", "이스", "스를"}},
		{"single syllable", "그 책", []string{"그", "책"}},
		{"mixed word", "PostgreSQL을 써요", []string{"postgresql", "을", "써요"}},
		{"punctuation only", "--- *** !!!", nil},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, Terms(tt.in)); diff != "" {
				t.Errorf("Terms(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestStemSharesBigramsWithInflectedForm(t *testing.T) {
	t.Parallel()
	doc := map[string]bool{}
	for _, term := range Terms("우리는 데이터베이스를 튜닝했다.") {
		doc[term] = true
	}
	for _, term := range Terms("데이터베이스") {
		if !doc[term] {
			t.Errorf("query term %q missing from document terms", term)
		}
	}
}

func TestTermsTruncatesLongRuns(t *testing.T) {
	t.Parallel()
	got := Terms(strings.Repeat("é", 100))
	if len(got) != 1 || len(got[0]) > MaxTermBytes {
		t.Fatalf("got %d terms, first %d bytes; want one term of at most %d bytes", len(got), len(got[0]), MaxTermBytes)
	}
}

func TestSentences(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
	}{
		{"벡터 검색은 빠르다. 정말 그럴까? Yes! It is fast.", []string{"벡터 검색은 빠르다.", "정말 그럴까?", "Yes!", "It is fast."}},
		// UAX #29 sees no boundary before a lowercase word; after 다. there is one.
		{"먼저 설정합니다. kubectl을 실행하세요.", []string{"먼저 설정합니다.", "kubectl을 실행하세요."}},
		{"저장했다.\t pgvector를 쓴다.", []string{"저장했다.", "pgvector를 쓴다."}},
		{"Use e.g. kubectl here. Then go.", []string{"Use e.g. kubectl here.", "Then go."}},
		{"설정.md 파일과 값 3.14를 쓴다.", []string{"설정.md 파일과 값 3.14를 쓴다."}},
		{"  ", nil},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, Sentences(tt.in)); diff != "" {
			t.Errorf("Sentences(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
}

func FuzzTerms(f *testing.F) {
	f.Add("데이터베이스를 PostgreSQL에서")
	f.Add("\xff\xfe invalid")
	f.Fuzz(func(t *testing.T, s string) {
		for _, term := range append(Terms(s), IndexTerms(s)...) {
			if term == "" || len(term) > MaxTermBytes+3 {
				t.Fatalf("bad term %q", term)
			}
			if strings.ContainsAny(term, " &|!():*'\\<>") {
				t.Fatalf("term %q contains tsquery syntax", term)
			}
		}
	})
}
