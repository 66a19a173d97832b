package hashembed

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/protostar/protostar/internal/lexical"
)

func scanTerms(s string) []string {
	var (
		sc    termScanner
		terms []string
	)
	sc.scan(s, func(t []byte) { terms = append(terms, string(t)) })
	return terms
}

func TestScannerMatchesLexical(t *testing.T) {
	t.Parallel()
	tests := []string{
		"",
		"Hello, World! x 42 a1 B",
		"데이터베이스를 PostgreSQL에서 튜닝했다. 그 책은 좋아요!",
		"PostgreSQL을 써요 v2.3 GPU가 3개",
		"그 책", "가", "가 나 다", "a", "Z 9",
		"漢字とひらがなとカタカナ、한국어 mixed テスト",
		"ᄀᄁ ㄱㄴ 한글자모", // conjoining and compatibility jamo are Hangul too
		"\xff\xfe invalid \xc3\x28 bytes \xe2\x82 데이\xff터",
		"café naïve cafe\u0301 ﬁle", // a combining mark separates; the ligature is a letter
		"\u212a \u212aelvin \u0130stanbul ΣΊΣΥΦΟΣ Ａｂｃ ²³ Ⅻ ٣٤",
		strings.Repeat("é", 100) + " " + strings.Repeat("a", 70) + " " + strings.Repeat("a", 63) + "é",
		strings.Repeat("x", 64) + "\u212a" + "y",
		"🙂emoji🙂 데이터🙂베이스 tab\tnew\nline\u00a0nbsp\u3000ideographic",
		"snake_case kebab-case CamelCase dotted.name email@example.com https://example.com/a?b=c",
	}
	for _, in := range tests {
		if diff := cmp.Diff(lexical.Terms(in), scanTerms(in)); diff != "" {
			t.Errorf("scan(%q) differs from lexical.Terms (-lexical +scan):\n%s", in, diff)
		}
	}
}

// TestScannerMatchesLexicalRandom compares both on seeded random strings
// drawn from an alphabet of every rune class the term rules distinguish.
func TestScannerMatchesLexicalRandom(t *testing.T) {
	t.Parallel()
	alphabet := []string{
		"a", "Z", "7", " ", ".", "-", "_", "\n", "가", "힣", "ᄀ", "ㄱ", "漢", "ひ", "カ",
		"é", "\u0301", "\u212a", "\u0130", "Σ", "²", "Ⅻ", "🙂", "\xff", "\xe2\x82", "\u00a0",
		strings.Repeat("b", 30), strings.Repeat("é", 20),
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		var b strings.Builder
		for range r.IntN(40) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		in := b.String()
		if diff := cmp.Diff(lexical.Terms(in), scanTerms(in)); diff != "" {
			t.Fatalf("scan(%q) differs from lexical.Terms (-lexical +scan):\n%s", in, diff)
		}
	}
}

func FuzzScannerMatchesLexical(f *testing.F) {
	f.Add("데이터베이스를 PostgreSQL에서")
	f.Add("\xff\xfe invalid \u212a")
	f.Add(strings.Repeat("é", 40))
	f.Fuzz(func(t *testing.T, s string) {
		if diff := cmp.Diff(lexical.Terms(s), scanTerms(s)); diff != "" {
			t.Fatalf("scan(%q) differs from lexical.Terms (-lexical +scan):\n%s", s, diff)
		}
	})
}

func TestScannerDoesNotAllocate(t *testing.T) {
	var sc termScanner
	text := "데이터베이스를 PostgreSQL에서 튜닝했다. Vectors are FAST, 그렇죠? " + strings.Repeat("é", 40)
	sc.scan(text, func([]byte) {}) // grow the word buffer once
	var n int
	allocs := testing.AllocsPerRun(100, func() {
		sc.scan(text, func(b []byte) { n += len(b) })
	})
	if allocs != 0 {
		t.Errorf("scan allocated %v times per run, want 0", allocs)
	}
}
