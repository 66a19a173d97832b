// Package lexical is the Korean-aware text analysis shared by keyword search,
// the offline hash embedder and the extractive generator: it splits text into
// search terms and into sentences.
//
// Hangul (and other scripts written without spaces between morphemes) is
// indexed as overlapping syllable bigrams, so a query for 데이터베이스 matches
// 데이터베이스를 even though the particle 를 is attached: both share the
// bigrams 데이, 이터, 터베, 베이 and 이스. Other words are lower-cased whole.
package lexical

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/clipperhouse/uax29/v2/sentences"
)

// MaxTermBytes caps a single term; longer runs (hashes, base64 blobs) are
// truncated at a rune boundary so they cannot bloat the keyword index.
const MaxTermBytes = 64

// Terms returns the search terms of s in order of appearance, duplicates
// included. Terms contain only letters and digits, so they are safe to join
// into a Postgres tsquery with operators.
func Terms(s string) []string {
	var terms []string
	EachTerm(s, func(t string) { terms = append(terms, t) })
	return terms
}

// EachTerm calls fn for every term of s without allocating the slice.
func EachTerm(s string, fn func(term string)) {
	var (
		word  strings.Builder // current non-bigram word
		prev  rune            // previous bigram-script rune, or 0
		nSyll int             // syllables in the current bigram run
	)
	flushWord := func() {
		if word.Len() == 0 {
			return
		}
		w := word.String()
		word.Reset()
		if len(w) == 1 && w[0] < utf8.RuneSelf && !isDigit(w[0]) {
			return // single Latin letters carry no meaning
		}
		fn(truncate(w))
	}
	flushRun := func() {
		if nSyll == 1 {
			fn(string(prev))
		}
		prev, nSyll = 0, 0
	}
	for _, r := range s {
		switch {
		case isBigramScript(r):
			flushWord()
			if prev != 0 {
				fn(string([]rune{prev, r}))
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
}

// Sentences splits s into sentences following Unicode UAX #29, which treats
// Korean sentence endings (다. ? !) correctly. Surrounding white space is
// trimmed and empty sentences are dropped. Concatenating the untrimmed
// pieces gives back s.
func Sentences(s string) []string {
	var out []string
	it := sentences.FromString(s)
	for it.Next() {
		if t := strings.TrimSpace(it.Value()); t != "" {
			out = append(out, t)
		}
	}
	return out
}

func isBigramScript(r rune) bool {
	return unicode.Is(unicode.Hangul, r) || unicode.Is(unicode.Han, r) ||
		unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r)
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func truncate(w string) string {
	if len(w) <= MaxTermBytes {
		return w
	}
	cut := MaxTermBytes
	for cut > 0 && !utf8.RuneStart(w[cut]) {
		cut--
	}
	return w[:cut]
}
