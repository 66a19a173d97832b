package lexical

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// referenceTerms is the straightforward definition of a term that
// EachTerm implements without allocating: words lower-cased rune by rune,
// bigrams and single syllables built as new strings.
func referenceTerms(s string) []string {
	var (
		out   []string
		word  strings.Builder
		prev  rune
		nSyll int
	)
	flushWord := func() {
		if word.Len() == 0 {
			return
		}
		w := word.String()
		word.Reset()
		if len(w) == 1 && w[0] < utf8.RuneSelf && !isDigit(w[0]) {
			return
		}
		out = append(out, truncate(w))
	}
	flushRun := func() {
		if nSyll == 1 {
			out = append(out, string(prev))
		}
		prev, nSyll = 0, 0
	}
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Hangul, r) || unicode.Is(unicode.Han, r) ||
			unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r):
			flushWord()
			if prev != 0 {
				out = append(out, string([]rune{prev, r}))
			}
			prev = r
			nSyll++
		case unicode.IsLetter(r) || unicode.IsNumber(r):
			flushRun()
			word.WriteRune(unicode.ToLower(r))
		default:
			flushRun()
			flushWord()
		}
	}
	flushRun()
	flushWord()
	return out
}

var equivalenceCases = []string{
	"",
	"Hello, World! x 42 a1 B",
	"데이터베이스를 PostgreSQL에서 튜닝했다. 그 책은 좋아요!",
	"漢字とひらがなとカタカナ、한국어 mixed テスト",
	"ᄀᄁ ㄱㄴ 한글자모",
	"\xff\xfe invalid \xc3\x28 bytes \xe2\x82 데이\xff터",
	"café naïve cafe\u0301 ﬁle Ünïcödé ÉCOLE",
	"\u212a \u212aelvin \u0130stanbul ΣΊΣΥΦΟΣ Ａｂｃ ²³ Ⅻ ٣٤ K",
	strings.Repeat("é", 100) + " " + strings.Repeat("a", 70) + " " + strings.Repeat("A", 70) + " " + strings.Repeat("a", 63) + "É",
	strings.Repeat("x", 63) + "\u212a" + "y " + strings.Repeat("X", 62) + "\u212a",
	"🙂emoji🙂 데이터🙂베이스 tab\tnew\nline\u00a0nbsp\u3000ideographic",
}

func TestEachTermMatchesReference(t *testing.T) {
	t.Parallel()
	for _, in := range equivalenceCases {
		if diff := cmp.Diff(referenceTerms(in), Terms(in)); diff != "" {
			t.Errorf("Terms(%q) differs from the reference (-reference +got):\n%s", in, diff)
		}
	}
	alphabet := []string{
		"a", "Z", "7", " ", ".", "-", "_", "\n", "가", "힣", "ᄀ", "ㄱ", "漢", "ひ", "カ",
		"é", "É", "\u0301", "\u212a", "\u0130", "Σ", "²", "Ⅻ", "🙂", "\xff", "\xe2\x82", "\u00a0",
		strings.Repeat("b", 30), strings.Repeat("B", 30), strings.Repeat("é", 20),
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		var b strings.Builder
		for range r.IntN(40) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		in := b.String()
		if diff := cmp.Diff(referenceTerms(in), Terms(in)); diff != "" {
			t.Fatalf("Terms(%q) differs from the reference (-reference +got):\n%s", in, diff)
		}
	}
}

func FuzzTermsMatchReference(f *testing.F) {
	for _, c := range equivalenceCases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if diff := cmp.Diff(referenceTerms(s), Terms(s)); diff != "" {
			t.Fatalf("Terms(%q) differs from the reference (-reference +got):\n%s", s, diff)
		}
	})
}

func TestEachTermAllocatesOnlyToLowerCase(t *testing.T) {
	text := strings.Repeat("우리는 데이터베이스를 튜닝했다. the index and query cache 42 ", 20)
	n := 0
	allocs := testing.AllocsPerRun(20, func() { EachTerm(text, func(string) { n++ }) })
	if allocs != 0 {
		t.Errorf("EachTerm on lower-case text: %v allocations per run, want 0", allocs)
	}
}

func BenchmarkEachTerm(b *testing.B) {
	text := strings.Repeat("우리는 데이터베이스를 PostgreSQL에서 튜닝했다. The index and the query cache are fast. ", 30)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		EachTerm(text, func(string) {})
	}
}

func TestEachTermSpan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string // term@start:end
	}{
		{"데이터를 Backup", []string{"데이@0:6", "이터@3:9", "터를@6:12", "backup@13:19"}},
		{"가 b 12", []string{"가@0:3", "12@6:8"}},
	}
	for _, tt := range tests {
		var got []string
		EachTermSpan(tt.in, func(term string, start, end int) {
			got = append(got, fmt.Sprintf("%s@%d:%d", term, start, end))
		})
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("EachTermSpan(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}
