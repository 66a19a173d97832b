package hashembed

import (
	"unicode"
	"unicode/utf8"

	"github.com/protostar/protostar/internal/lexical"
)

// termScanner yields exactly the terms of lexical.EachTerm, but as byte
// slices of reused buffers instead of fresh strings, so scanning allocates
// nothing once the word buffer has grown. TestScannerMatchesLexical and
// FuzzScannerMatchesLexical pin the equivalence; lexical stays the one
// definition of a term.
type termScanner struct {
	word     []byte // lower-cased bytes of the current word, at most lexical.MaxTermBytes
	wordLen  int    // untruncated byte length of the current word
	wordFull bool   // a rune did not fit: the word is truncated at a rune boundary
	prev     rune   // previous rune of the current bigram run
	nSyll    int    // runes in the current bigram run
	pair     [2 * utf8.UTFMax]byte
}

// scan calls fn for every term of s, in the order lexical.EachTerm would.
// The term slice is only valid until fn returns.
func (sc *termScanner) scan(s string, fn func(term []byte)) {
	sc.word, sc.wordLen, sc.wordFull = sc.word[:0], 0, false
	sc.prev, sc.nSyll = 0, 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			i++
			switch {
			case 'a' <= b && b <= 'z' || '0' <= b && b <= '9':
				sc.endRun(fn)
				sc.addWordByte(b)
			case 'A' <= b && b <= 'Z':
				sc.endRun(fn)
				sc.addWordByte(b + 'a' - 'A')
			default:
				sc.endRun(fn)
				sc.endWord(fn)
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case lexical.IsBigramScript(r):
			sc.endWord(fn)
			if sc.nSyll > 0 {
				n := utf8.EncodeRune(sc.pair[:], sc.prev)
				n += utf8.EncodeRune(sc.pair[n:], r)
				fn(sc.pair[:n])
			}
			sc.prev = r
			sc.nSyll++
		case unicode.IsLetter(r) || unicode.IsNumber(r):
			sc.endRun(fn)
			sc.addWordRune(unicode.ToLower(r))
		default: // separators, including U+FFFD from invalid UTF-8
			sc.endRun(fn)
			sc.endWord(fn)
		}
	}
	sc.endRun(fn)
	sc.endWord(fn)
}

// endRun closes a bigram run; a run of one syllable is a term by itself.
func (sc *termScanner) endRun(fn func([]byte)) {
	if sc.nSyll == 1 {
		n := utf8.EncodeRune(sc.pair[:], sc.prev)
		fn(sc.pair[:n])
	}
	sc.prev, sc.nSyll = 0, 0
}

// endWord emits the current word unless it is a single ASCII letter, which
// lexical drops as meaningless.
func (sc *termScanner) endWord(fn func([]byte)) {
	if sc.wordLen == 0 {
		return
	}
	if sc.wordLen > 1 || isDigit(sc.word[0]) {
		fn(sc.word)
	}
	sc.word, sc.wordLen, sc.wordFull = sc.word[:0], 0, false
}

func (sc *termScanner) addWordByte(b byte) {
	sc.wordLen++
	if !sc.wordFull && len(sc.word) < lexical.MaxTermBytes {
		sc.word = append(sc.word, b)
	} else {
		sc.wordFull = true
	}
}

func (sc *termScanner) addWordRune(r rune) {
	n := utf8.RuneLen(r)
	sc.wordLen += n
	if !sc.wordFull && len(sc.word)+n <= lexical.MaxTermBytes {
		sc.word = utf8.AppendRune(sc.word, r)
	} else {
		// Truncation keeps a prefix, so once a rune misses the cap no later
		// rune may be appended either, even a shorter one.
		sc.wordFull = true
	}
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }
