package markdown

import (
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/tiktoken-go/tokenizer"
)

// counter counts cl100k_base tokens.
type counter struct {
	codec tokenizer.Codec
}

func newCounter() (*counter, error) {
	codec, err := tokenizer.Get(tokenizer.Cl100kBase)
	if err != nil {
		return nil, fmt.Errorf("load cl100k_base tokenizer: %w", err)
	}
	return &counter{codec: codec}, nil
}

// count returns the number of tokens in s. The codec only fails on a
// regular-expression engine error, which cannot happen for valid UTF-8; the
// byte length, an upper bound for byte-level BPE, stands in should it ever
// happen.
func (c *counter) count(s string) int {
	if s == "" {
		return 0
	}
	n, err := c.codec.Count(s)
	if err != nil {
		return len(s)
	}
	return n
}

// split cuts s into pieces of at most budget tokens each (the first at most
// first tokens), preferring to cut where white space starts, then at rune
// boundaries. White space at a cut is dropped: it falls between two chunks.
// The first piece keeps s's leading white space; if not even one rune fits
// the first budget, the first piece is empty. Only a single rune that alone
// exceeds the budget can make a piece exceed it. end is where the last
// piece ends in s: white space after it is not in any piece.
func (c *counter) split(s string, first, budget int) (pieces []piece, end int) {
	_, toks, err := c.codec.Encode(s)
	if err != nil || len(toks) == 0 {
		return []piece{{s, len(s)}}, len(s)
	}
	ends := make([]int, len(toks)) // ends[i]: byte offset after token i
	off := 0
	for i, t := range toks {
		off += len(t)
		ends[i] = off
	}
	start, ti, b := 0, 0, first
	for start < len(s) {
		if len(pieces) > 0 {
			start = skipSpace(s, start)
			if start == len(s) {
				break
			}
		}
		for ti < len(ends) && ends[ti] <= start {
			ti++
		}
		content := skipSpace(s, start)
		target := len(s)
		if ti+b-1 < len(ends) && b > 0 {
			target = ends[ti+b-1]
		} else if b <= 0 {
			target = start
		}
		cut, n := target, 0
		for {
			if cut < len(s) {
				cut = boundaryBefore(s, content, cut)
			}
			if cut <= content {
				break
			}
			n = c.count(s[start:cut])
			if n <= b {
				break
			}
			// Re-tokenising alone gave more tokens than in context: shrink in
			// proportion and try again.
			cut = start + (cut-start)*b/n
			if cut >= len(s) {
				cut = len(s) - 1
			}
		}
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

func isSpaceOnly(s string) bool { return skipSpace(s, 0) == len(s) }
