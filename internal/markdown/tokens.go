package markdown

import (
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/tiktoken-go/tokenizer"
)

// counter counts cl100k_base tokens. It splits text into pretokens itself
// (the same split as cl100k_base's pattern, see nextPretoken) and caches
// the BPE count of short pretokens, which makes counting several times
// faster than the codec's own Count on natural text. Its own cache serves
// one document without locking; the shared one, when given, carries counts
// over to the next documents.
type counter struct {
	codec  tokenizer.Codec
	cache  map[string]int
	shared *TokenCache
}

// TokenCache holds token counts of words for every chunker given it in
// Options, so that a word already counted in one document costs a map
// lookup in the next: byte-pair encoding is most of a chunker's work. It
// is safe for concurrent use and holds at most a fixed number of entries.
type TokenCache struct {
	mu sync.RWMutex
	m  map[string]int
}

// NewTokenCache returns an empty cache.
func NewTokenCache() *TokenCache {
	return &TokenCache{m: make(map[string]int, 1024)}
}

// lookup and store do nothing on a nil cache.
func (t *TokenCache) lookup(p string) (int, bool) {
	if t == nil {
		return 0, false
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	k, ok := t.m[p]
	return k, ok
}

func (t *TokenCache) store(p string, k int) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.m) >= sharedEntries {
		clear(t.m)
	}
	t.m[p] = k
}

const (
	cacheEntries  = 1 << 16 // a chunker's cache is cleared when it reaches this size
	sharedEntries = 1 << 16 // and a TokenCache at this one
	cacheKeyMax   = 64      // longer pretokens are not cached
)

// newCounter returns a counter; shared may be nil.
func newCounter(shared *TokenCache) (*counter, error) {
	codec, err := tokenizer.Get(tokenizer.Cl100kBase)
	if err != nil {
		return nil, fmt.Errorf("load cl100k_base tokenizer: %w", err)
	}
	return &counter{codec: codec, cache: make(map[string]int, 1024), shared: shared}, nil
}

// count returns the number of tokens in s.
func (c *counter) count(s string) int {
	n := 0
	for i := 0; i < len(s); {
		j, k := c.next(s, i)
		n += k
		i = j
	}
	return n
}

// next returns the end of the pretoken of s starting at i and its number
// of tokens. Counts add up over pretokens: a part of s that starts and ends
// at pretoken boundaries has the tokens of its pretokens.
func (c *counter) next(s string, i int) (end, tokens int) {
	if s[i] == del {
		return i + 1, 0 // matched by no alternative of the pattern: the codec skips it
	}
	j := nextPretoken(s, i)
	p := s[i:j]
	if len(p) > cacheKeyMax {
		return j, c.bpe(p)
	}
	k, ok := c.cache[p]
	if !ok {
		key := strings.Clone(p)
		if k, ok = c.shared.lookup(key); !ok {
			k = c.bpe(p)
			c.shared.store(key, k)
		}
		if len(c.cache) >= cacheEntries {
			clear(c.cache)
		}
		c.cache[key] = k
	}
	return j, k
}

// bpe returns the number of tokens of one pretoken. The codec only fails on
// a regular-expression engine error, which cannot happen for valid UTF-8;
// the byte length, an upper bound for byte-level BPE, stands in should it
// ever happen.
func (c *counter) bpe(p string) int {
	n, err := c.codec.Count(p)
	if err != nil {
		return len(p)
	}
	return n
}

// nextPretoken returns the end of the pretoken that starts at i, following
// cl100k_base's split pattern
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// as the codec's regexp2 engine runs it (\s is unicode.IsSpace, \p{L}
// unicode.IsLetter, \p{N} unicode.IsNumber; case folding adds ſ to s; its
// ASCII tables leave DEL out of every class, so DEL is never part of a
// pretoken). TestCounterMatchesCodec and FuzzCounter check it against the
// codec.
func nextPretoken(s string, i int) int {
	r, n := decode(s, i)
	// (?i:'s|'t|'re|'ve|'m|'ll|'d)
	if r == '\'' {
		r1, n1 := decode(s, i+n)
		switch r1 {
		case 's', 'S', 't', 'T', 'ſ', 'm', 'M', 'd', 'D':
			return i + n + n1
		case 'r', 'R', 'v', 'V':
			if r2, n2 := decode(s, i+n+n1); r2 == 'e' || r2 == 'E' {
				return i + n + n1 + n2
			}
		case 'l', 'L':
			if r2, n2 := decode(s, i+n+n1); r2 == 'l' || r2 == 'L' {
				return i + n + n1 + n2
			}
		}
	}
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if isLetter(r) {
		return letters(s, i+n)
	}
	if r != '\r' && r != '\n' && r != del && !isNumber(r) {
		if r1, n1 := decode(s, i+n); n1 > 0 && isLetter(r1) {
			return letters(s, i+n+n1)
		}
	}
	// \p{N}{1,3}
	if isNumber(r) {
		j := i + n
		for k := 1; k < 3; k++ {
			r1, n1 := decode(s, j)
			if n1 == 0 || !isNumber(r1) {
				break
			}
			j += n1
		}
		return j
	}
	// ' ?[^\s\p{L}\p{N}]+[\r\n]*'
	j := i
	if r == ' ' {
		j += n
	}
	if r1, n1 := decode(s, j); n1 > 0 && isOther(r1) {
		j += n1
		for {
			r2, n2 := decode(s, j)
			if n2 == 0 || !isOther(r2) {
				break
			}
			j += n2
		}
		for j < len(s) && (s[j] == '\r' || s[j] == '\n') {
			j++
		}
		return j
	}
	// Here r is white space: the rest of the pattern.
	end, lastNL, prev := i, -1, i
	for end < len(s) {
		r1, n1 := decode(s, end)
		if !isSpace(r1) {
			break
		}
		if r1 == '\r' || r1 == '\n' {
			lastNL = end
		}
		prev = end
		end += n1
	}
	switch {
	case lastNL >= 0: // \s*[\r\n]+
		return lastNL + 1
	case end == len(s) || prev == i: // \s+(?!\S) at the end, or \s+
		return end
	default: // \s+(?!\S): leave the last space to the next pretoken
		return prev
	}
}

// decode returns the rune at i and its size, or size 0 at the end.
func decode(s string, i int) (rune, int) {
	if i >= len(s) {
		return 0, 0
	}
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

// letters returns the end of the run of letters starting at i.
func letters(s string, i int) int {
	for {
		r, n := decode(s, i)
		if n == 0 || !isLetter(r) {
			return i
		}
		i += n
	}
}

func isLetter(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'
	}
	return unicode.IsLetter(r)
}

func isNumber(r rune) bool {
	if r < utf8.RuneSelf {
		return '0' <= r && r <= '9'
	}
	return unicode.IsNumber(r)
}

func isSpace(r rune) bool {
	if r < utf8.RuneSelf {
		return r == ' ' || '\t' <= r && r <= '\r'
	}
	return unicode.IsSpace(r)
}

// isOther reports whether r is neither white space, letter nor number (nor
// DEL, see nextPretoken).
func isOther(r rune) bool { return r != del && !isSpace(r) && !isLetter(r) && !isNumber(r) }

const del = 0x7f

// split cuts s into pieces of at most budget tokens each (the first at most
// first tokens), preferring to cut where white space starts, then at rune
// boundaries. White space at a cut is dropped: it falls between two chunks.
// The first piece keeps s's leading white space; if not even one rune fits
// the first budget, the first piece is empty. Only a single rune that alone
// exceeds the budget can make a piece exceed it. end is where the last
// piece ends in s: white space after it is not in any piece.
func (c *counter) split(s string, first, budget int) (pieces []piece, end int) {
	ratio := 4.0 // bytes per token, learnt from the counts
	start, b := 0, first
	for start < len(s) {
		if len(pieces) > 0 {
			start = skipSpace(s, start)
			if start == len(s) {
				break
			}
		}
		content := skipSpace(s, start)
		cut, n := c.fit(s, start, content, b, &ratio)
		if cut <= content {
			if len(pieces) == 0 && b < budget {
				// Nothing fits the first budget: start the next chunk.
				pieces = append(pieces, piece{})
				b = budget
				continue
			}
			// A single rune that exceeds the budget on its own.
			_, size := utf8.DecodeRuneInString(s[content:])
			cut = content + size
			n = c.count(s[start:cut])
		}
		pieces = append(pieces, piece{s[start:cut], n})
		start, b, end = cut, budget, cut
	}
	return pieces, end
}

// fit finds a long prefix s[start:cut] of at most b tokens, cut as
// boundaryBefore prefers. Token counts grow about linearly with length, so
// a few proportional guesses, each checked by counting, get close to b
// without tokenising more than a few times the piece. It returns cut ≤
// content if nothing fits.
func (c *counter) fit(s string, start, content, b int, ratio *float64) (cut, n int) {
	if b <= 0 {
		return start, 0
	}
	lo, loN, hi := content, 0, len(s)+1          // s[start:lo] fits, s[start:hi] does not
	guess := start + int(0.97*float64(b)**ratio) // aim a little low: a fit ends the search
	for range 12 {
		if guess >= hi {
			guess = lo + (hi-lo)/2
		}
		at := len(s)
		if guess < len(s) {
			at = boundaryBefore(s, content, guess)
		}
		if at <= lo || at >= hi {
			break
		}
		k := c.count(s[start:at])
		if k > 0 {
			*ratio = float64(at-start) / float64(k)
		}
		if k > b {
			hi = at
		} else {
			lo, loN = at, k
			if at == len(s) || k >= b-max(1, b/16) {
				break
			}
		}
		guess = start + int(float64(b)**ratio)
		if guess <= lo {
			guess = lo + 1
		}
	}
	return lo, loN
}

// piece is a part of a split text with its token count.
type piece struct {
	text   string
	tokens int
}

// boundaryBefore returns the best cut at or before limit and after min:
// the last place where white space follows a non-space rune, provided that
// keeps at least half of the piece, else the last rune boundary. It returns
// min or less if there is none.
func boundaryBefore(s string, min, limit int) int {
	for limit > min && !utf8.RuneStart(s[limit]) {
		limit--
	}
	floor := min + (limit-min)/2
	for i := limit; i > floor; {
		p, size := utf8.DecodeLastRuneInString(s[:i])
		if !unicode.IsSpace(p) {
			if r, _ := utf8.DecodeRuneInString(s[i:]); unicode.IsSpace(r) {
				return i
			}
		}
		i -= size
	}
	return limit
}

func skipSpace(s string, i int) int {
	for i < len(s) {
		if c := s[i]; c < utf8.RuneSelf {
			if c != ' ' && c != '\t' && c != '\n' && c != '\v' && c != '\f' && c != '\r' {
				return i
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsSpace(r) {
			return i
		}
		i += size
	}
	return i
}

// isSpaceOnlyBytes reports whether b is all (Unicode) white space.
func isSpaceOnlyBytes(b []byte) bool {
	for i := 0; i < len(b); {
		r, n := rune(b[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRune(b[i:])
		}
		if !isSpace(r) {
			return false
		}
		i += n
	}
	return true
}
