package extractive

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// cleanInline turns a verbatim Markdown span into reader text: line breaks
// and block-quote markers become spaces, code spans lose their backticks,
// links and images keep only their text, footnote references, HTML tags,
// emphasis delimiters and backslash escapes go, and white space is
// collapsed. Code span contents are kept literally.
func cleanInline(raw string) string {
	raw = lineBreak.ReplaceAllString(raw, " ")
	var (
		b        strings.Builder
		noCloser backtickMisses
		text     int // start of the text not yet written
	)
	for i := 0; i < len(raw); {
		if raw[i] != '`' {
			i++
			continue
		}
		n := 0
		for i+n < len(raw) && raw[i+n] == '`' {
			n++
		}
		end := findBackticks(&noCloser, raw, i+n, n)
		if end < 0 { // unmatched backticks are literal
			i += n
			continue
		}
		b.WriteString(cleanText(raw[text:i]))
		b.WriteString(strings.TrimSpace(raw[i+n : end]))
		i = end + n
		text = i
	}
	b.WriteString(cleanText(raw[text:]))
	return strings.Join(strings.Fields(b.String()), " ")
}

// backtickMisses remembers the backtick run lengths that have no closing run
// further on, so that many unmatched backticks cost linear, not quadratic,
// time: once a search from some position fails, every later one fails too.
type backtickMisses map[int]bool

// findBackticks returns the position of the first run of exactly n
// backticks at or after from in s, or -1.
func findBackticks[S ~string | ~[]byte](m *backtickMisses, s S, from, n int) int {
	if (*m)[n] {
		return -1
	}
	for i := from; i < len(s); {
		if s[i] != '`' {
			i++
			continue
		}
		k := 0
		for i+k < len(s) && s[i+k] == '`' {
			k++
		}
		if k == n {
			return i
		}
		i += k
	}
	if *m == nil {
		*m = make(backtickMisses)
	}
	(*m)[n] = true
	return -1
}

// cleanText cleans Markdown outside code spans.
func cleanText(s string) string {
	if strings.ContainsAny(s, "[<") {
		s = image.ReplaceAllString(s, "$1")
		s = inlineLink.ReplaceAllString(s, "$1")
		s = refLink.ReplaceAllString(s, "$1")
		s = footnoteRef.ReplaceAllString(s, "")
		s = autolink.ReplaceAllString(s, "$1")
		s = htmlTag.ReplaceAllString(s, " ")
	}
	if strings.ContainsAny(s, "*_~\\") {
		s = stripEmphasis(s)
	}
	return s
}

// delimRun is a run of emphasis delimiters in stripEmphasis.
type delimRun struct {
	start, end int
	char       byte
	open       bool
	close      bool
	matched    bool
}

// stripEmphasis removes matched emphasis (*, _) and strikethrough (~~)
// delimiters using CommonMark's flanking rules, so snake_case, 2 * 3 and a
// lone asterisk survive, and drops backslashes that escape punctuation.
func stripEmphasis(s string) string {
	var (
		runs    []delimRun
		escapes []int // positions of escaping backslashes
	)
	for i := 0; i < len(s); {
		c := s[i]
		if c == '\\' && i+1 < len(s) && strings.IndexByte(asciiPunct, s[i+1]) >= 0 {
			escapes = append(escapes, i)
			i += 2
			continue
		}
		if c != '*' && c != '_' && c != '~' {
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] == c {
			j++
		}
		if c == '~' && j-i != 2 {
			i = j
			continue
		}
		prev, _ := utf8.DecodeLastRuneInString(s[:i])
		next, _ := utf8.DecodeRuneInString(s[j:])
		if i == 0 {
			prev = ' '
		}
		if j == len(s) {
			next = ' '
		}
		left := !unicode.IsSpace(next) && (!isPunct(next) || unicode.IsSpace(prev) || isPunct(prev))
		right := !unicode.IsSpace(prev) && (!isPunct(prev) || unicode.IsSpace(next) || isPunct(next))
		r := delimRun{start: i, end: j, char: c, open: left, close: right}
		if c == '_' {
			r.open = left && (!right || isPunct(prev))
			r.close = right && (!left || isPunct(next))
		}
		runs = append(runs, r)
		i = j
	}
	matchDelimiters(runs)
	var b strings.Builder
	b.Grow(len(s))
	pos := 0
	ri, ei := 0, 0
	for pos < len(s) {
		if ei < len(escapes) && escapes[ei] == pos {
			ei++
			pos++ // drop the backslash, keep the escaped character
			b.WriteByte(s[pos])
			pos++
			continue
		}
		for ri < len(runs) && runs[ri].end <= pos {
			ri++
		}
		if ri < len(runs) && runs[ri].start == pos {
			if !runs[ri].matched {
				b.WriteString(s[runs[ri].start:runs[ri].end])
			}
			pos = runs[ri].end
			continue
		}
		b.WriteByte(s[pos])
		pos++
	}
	return b.String()
}

// matchDelimiters marks every closing run that has an earlier opening run
// of the same character, and that opener, as matched; openers in between
// are abandoned, as in CommonMark.
func matchDelimiters(runs []delimRun) {
	var stack []int
	for k := range runs {
		matched := false
		if runs[k].close {
			for m := len(stack) - 1; m >= 0; m-- {
				if o := stack[m]; runs[o].char == runs[k].char {
					runs[o].matched, runs[k].matched = true, true
					stack = stack[:m]
					matched = true
					break
				}
			}
		}
		if !matched && runs[k].open {
			stack = append(stack, k)
		}
	}
}

const asciiPunct = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"

func isPunct(r rune) bool { return unicode.IsPunct(r) || unicode.IsSymbol(r) }

// Compiled patterns are read-only and safe for concurrent use.
var (
	lineBreak   = regexp.MustCompile(`[ \t]*\r?\n[ \t]*(?:>[ \t]*)*`)
	image       = regexp.MustCompile(`!\[([^\[\]]*)\]\([^()]*(?:\([^()]*\)[^()]*)*\)`)
	inlineLink  = regexp.MustCompile(`\[([^\[\]]*)\]\([^()]*(?:\([^()]*\)[^()]*)*\)`)
	refLink     = regexp.MustCompile(`\[([^\[\]^]+)\]\[[^\[\]]*\]`)
	footnoteRef = regexp.MustCompile(`\[\^[^\[\]]+\]`)
	autolink    = regexp.MustCompile(`<((?:https?|mailto):[^<>\s]+)>`)
)
