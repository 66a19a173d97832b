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
// into a Postgres tsquery with operators. Terms may share memory with s.
func Terms(s string) []string {
	var terms []string
	EachTerm(s, func(t string) { terms = append(terms, t) })
	return terms
}

// EachTerm calls fn for every term of s without allocating the slice. Terms
// that appear in s as they are (lower-case words, bigrams, single
// syllables) are passed as substrings of s, so only words that need
// lower-casing allocate.
func EachTerm(s string, fn func(term string)) {
	EachTermSpan(s, func(term string, _, _ int) { fn(term) })
}

// EachTermSpan is EachTerm that also passes where in s each term comes
// from, s[start:end], so a caller can mark the terms of a text (the
// console highlights a query's matched terms so).
func EachTermSpan(s string, fn func(term string, start, end int)) {
	var (
		w       = word{start: -1}
		prevAt  = -1 // start of the previous rune of the current bigram run, or -1
		prevLen int  // its length
		nSyll   int  // runes in the current bigram run
	)
	flushRun := func() {
		if nSyll == 1 {
			fn(s[prevAt:prevAt+prevLen], prevAt, prevAt+prevLen)
		}
		prevAt, nSyll = -1, 0
	}
	for i := 0; i < len(s); {
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		switch {
		case r < utf8.RuneSelf && isASCIIAlnum(byte(r)):
			flushRun()
			lr := r
			if 'A' <= r && r <= 'Z' {
				lr += 'a' - 'A'
			}
			w.add(s, i, size, r, lr)
		case r < utf8.RuneSelf:
			flushRun()
			w.flush(s, fn)
		case IsBigramScript(r):
			w.flush(s, fn)
			if nSyll > 0 {
				// The previous rune ends where r starts: the bigram is a
				// substring of s.
				fn(s[prevAt:i+size], prevAt, i+size)
			}
			prevAt, prevLen = i, size
			nSyll++
		case unicode.IsLetter(r) || unicode.IsNumber(r):
			flushRun()
			w.add(s, i, size, r, unicode.ToLower(r))
		default:
			flushRun()
			w.flush(s, fn)
		}
		i += size
	}
	flushRun()
	w.flush(s, fn)
}

// word is the word EachTerm is reading: a span of s until one of its runes
// changes when lower-cased, from then on a lower-cased copy.
type word struct {
	start, end int // span in s; start is -1 when there is no word
	lowered    bool
	low        []byte // the lower-cased word when lowered
}

// add appends the rune r at s[i:i+size], lower-cased as lr.
func (w *word) add(s string, i, size int, r, lr rune) {
	if w.start < 0 {
		w.start, w.lowered = i, false
	}
	if lr != r && !w.lowered {
		w.lowered = true
		w.low = append(w.low[:0], s[w.start:i]...)
	}
	if w.lowered {
		w.low = utf8.AppendRune(w.low, lr)
	}
	w.end = i + size
}

// flush passes the word to fn, unless it is a single Latin letter, which
// carries no meaning, and starts a new one.
func (w *word) flush(s string, fn func(term string, start, end int)) {
	if w.start < 0 {
		return
	}
	start, end := w.start, w.end
	term := s[start:end]
	if w.lowered {
		term = string(truncate(w.low))
	} else {
		term = truncate(term)
	}
	w.start, w.lowered = -1, false
	if len(term) > 1 || term[0] >= utf8.RuneSelf || isDigit(term[0]) {
		fn(term, start, end)
	}
}

// Sentences splits s into sentences following Unicode UAX #29, which treats
// Korean sentence endings (다. ? !) correctly, plus one rule for mixed text:
// a full stop after a Hangul syllable ends the sentence even when a
// lowercase word follows ("설정합니다. kubectl을 …"), where UAX #29, built
// for "e.g. this", sees none. Surrounding white space is trimmed and empty
// sentences are dropped. Concatenating the untrimmed pieces gives back s.
func Sentences(s string) []string {
	var out []string
	add := func(piece string) {
		if t := strings.TrimSpace(piece); t != "" {
			out = append(out, t)
		}
	}
	it := sentences.FromString(s)
	for it.Next() {
		splitHangulStops(it.Value(), add)
	}
	return out
}

// splitHangulStops passes seg to emit in pieces, cut after the white space
// that follows a Hangul syllable's full stop when a lowercase letter comes
// next.
func splitHangulStops(seg string, emit func(string)) {
	start := 0
	for dot := 0; dot < len(seg); dot++ {
		if seg[dot] != '.' { // never part of a multi-byte rune
			continue
		}
		if r, _ := utf8.DecodeLastRuneInString(seg[:dot]); r < 0xAC00 || r > 0xD7A3 {
			continue
		}
		word := len(seg) - len(strings.TrimLeftFunc(seg[dot+1:], unicode.IsSpace))
		if r, _ := utf8.DecodeRuneInString(seg[word:]); word > dot+1 && unicode.IsLower(r) {
			emit(seg[start:word])
			start = word
		}
	}
	emit(seg[start:])
}

// IsBigramScript reports whether r is written without spaces between
// morphemes, so that its runs are indexed as bigrams: Hangul, Han,
// Hiragana or Katakana. Precomposed Hangul syllables, by far the commonest
// case, skip the table look-ups.
func IsBigramScript(r rune) bool {
	if 0xAC00 <= r && r <= 0xD7A3 {
		return true
	}
	return unicode.Is(unicode.Hangul, r) || unicode.Is(unicode.Han, r) ||
		unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r)
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// isASCIIAlnum is unicode.IsLetter || unicode.IsNumber for ASCII.
func isASCIIAlnum(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || isDigit(b)
}

// truncate cuts w to at most MaxTermBytes, at a rune boundary.
func truncate[S ~string | ~[]byte](w S) S {
	if len(w) <= MaxTermBytes {
		return w
	}
	cut := MaxTermBytes
	for cut > 0 && !utf8.RuneStart(w[cut]) {
		cut--
	}
	return w[:cut]
}
