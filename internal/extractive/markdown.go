package extractive

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/protostar/protostar/internal/lexical"
	"github.com/protostar/protostar/internal/markdown"
)

// unitKind classifies a piece of a Markdown text.
type unitKind uint8

const (
	unitSentence unitKind = iota // prose: a summary or answer candidate
	unitHeading                  // a heading: context, never output
	unitSkipped                  // a code block, table, rule or HTML block
)

// unit is one piece of a Markdown text in reading order. start and end
// delimit its verbatim, trimmed source span, so quoting src[start:end] is
// always faithful; text is the same span with the Markdown syntax removed
// and white space collapsed, fit for showing to a reader.
type unit struct {
	kind       unitKind
	start, end int
	text       string
	block      int // index of the paragraph, list item or heading it came from
}

// segment splits Markdown src into sentences, headings and skipped blocks.
// Code (fenced or indented), tables, thematic breaks, HTML blocks, link
// reference definitions and YAML front matter are skipped; heading markers,
// list bullets and task boxes are kept out of the spans, and block-quote
// markers out of the text; the soft-wrapped lines of a paragraph form one
// block, so sentences run across line breaks. With linesAreBlocks
// every line is its own block, as in the reduce input where each line is one
// section's summary.
func segment(src string, linesAreBlocks bool) []unit {
	s := &segmenter{src: src, open: -1}
	s.run(linesAreBlocks)
	return s.units
}

type segmenter struct {
	src   string
	units []unit

	open      int // start of the open block, or -1
	openEnd   int
	openList  bool // the open block is a list item
	inList    bool // the last block was a list item, so indented text continues it
	nblock    int
	lastSkip  bool // the last unit appended is a skipped one
	fence     markdown.Fence
	inFence   bool // inside a fenced code block, until fence closes it
	inComment bool
	inTable   bool
}

// span is a byte range [start, end) of a text.
type span struct{ start, end int }

func (s *segmenter) run(linesAreBlocks bool) {
	lines := splitLines(s.src)
	for i := 0; i < len(lines); i++ {
		ls, le := lines[i].start, lines[i].end
		line := s.src[ls:le]
		if s.insideRaw(line) {
			continue
		}
		body := strings.TrimLeft(line, " \t")
		if body == "" {
			s.closeBlock()
			s.inTable = false
			continue
		}
		if i == 0 && strings.TrimRight(line, " \t") == "---" {
			if j := frontMatterEnd(s.src, lines); j > 0 {
				s.skip()
				i = j
				continue
			}
		}
		l := srcLine{end: le, indent: indentWidth(line[:len(line)-len(body)])}
		l.start, l.quoted = s.afterQuoteMarkers(le-len(body), le)
		l.rest = s.src[l.start:le]
		if l.rest == "" {
			s.closeBlock()
			continue
		}
		if !strings.Contains(l.rest, "|") {
			s.inTable = false
		}
		if i+1 < len(lines) {
			l.next = strings.TrimSpace(s.src[lines[i+1].start:lines[i+1].end])
		}
		s.line(l, linesAreBlocks)
	}
	s.closeBlock()
}

// srcLine is one non-blank line outside code, comments and front matter.
type srcLine struct {
	start, end int    // its content after block-quote markers, in src
	rest       string // src[start:end]
	next       string // the next line, trimmed
	indent     int    // columns of white space before it
	quoted     bool   // it is inside a block quote
}

// insideRaw consumes a line of a fenced code block or an HTML comment.
func (s *segmenter) insideRaw(line string) bool {
	switch {
	case s.inFence:
		if s.fence.Closes(line) {
			s.inFence = false
		}
		return true
	case s.inComment:
		if strings.Contains(line, "-->") {
			s.inComment = false
		}
		return true
	}
	return false
}

// afterQuoteMarkers skips the block-quote markers at src[cs:le] and reports
// whether there were any.
func (s *segmenter) afterQuoteMarkers(cs, le int) (int, bool) {
	quoted := false
	for cs < le && s.src[cs] == '>' {
		quoted = true
		cs++
		for cs < le && (s.src[cs] == ' ' || s.src[cs] == '\t') {
			cs++
		}
	}
	return cs, quoted
}

// line classifies one line and opens, continues or closes blocks.
func (s *segmenter) line(l srcLine, linesAreBlocks bool) {
	rest := l.rest
	switch {
	case s.opensFence(rest):
		s.closeBlock()
		s.skip()
	case l.indent >= 4 && s.open < 0 && !s.inList && !l.quoted:
		s.skip() // indented code block
	case markdown.IsATXHeading(rest):
		s.closeBlock()
		hs, he := atxHeadingContent(s.src, l.start, l.end)
		if hs < he {
			s.openBlock(hs, he, false)
			s.closeAs(unitHeading)
		}
		s.inList = false
	case s.open >= 0 && !s.openList && !linesAreBlocks && markdown.SetextLevel(rest) > 0:
		s.closeAs(unitHeading)
	case isThematicBreak(rest):
		s.closeBlock()
		s.skip()
		s.inList = false
	case strings.Contains(rest, "|") && (s.inTable || rest[0] == '|' || isTableDelimiter(l.next)):
		s.closeBlock()
		s.skip()
		s.inTable = true
	case strings.HasPrefix(rest, "<!--"):
		s.closeBlock()
		s.skip()
		s.inComment = !strings.Contains(rest[4:], "-->")
	case isHTMLOnly(rest), linkRefDef.MatchString(rest):
		s.closeBlock()
		s.skip()
	default:
		s.text(l, linesAreBlocks)
	}
}

// text handles a line of prose: a footnote or list item opens a block of
// its own, a soft-wrapped line continues the open block.
func (s *segmenter) text(l srcLine, linesAreBlocks bool) {
	if m := footnoteDef.FindStringIndex(l.rest); m != nil {
		s.closeBlock()
		s.openBlock(l.start+m[1], l.end, true)
		return
	}
	if m := listItem.FindStringIndex(l.rest); m != nil {
		s.closeBlock()
		s.openBlock(l.start+m[1], l.end, true)
		s.inList = true
		return
	}
	if s.open >= 0 && !linesAreBlocks {
		s.openEnd = l.end // soft-wrapped continuation of the open block
		return
	}
	s.closeBlock()
	if l.indent < 2 {
		s.inList = false
	}
	s.openBlock(l.start, l.end, false)
}

// opensFence reports whether rest opens a fenced code block, which then
// runs until its closing fence.
func (s *segmenter) opensFence(rest string) bool {
	f, ok := markdown.OpenFence(rest)
	if ok {
		s.fence, s.inFence = f, true
	}
	return ok
}

func (s *segmenter) openBlock(start, end int, list bool) {
	s.open, s.openEnd, s.openList = start, end, list
}

func (s *segmenter) skip() {
	if !s.lastSkip {
		s.units = append(s.units, unit{kind: unitSkipped, block: -1})
		s.lastSkip = true
	}
}

func (s *segmenter) closeBlock() { s.closeAs(unitSentence) }

// closeAs ends the open block, emitting it whole as a heading or split into
// sentences.
func (s *segmenter) closeAs(kind unitKind) {
	if s.open < 0 {
		return
	}
	start, end := s.open, s.openEnd
	s.open = -1
	for end > start && isASCIISpace(s.src[end-1]) {
		end--
	}
	if start >= end {
		return
	}
	raw := s.src[start:end]
	block := s.nblock
	s.nblock++
	if kind == unitHeading {
		if text := cleanInline(raw); text != "" {
			s.units = append(s.units, unit{kind: unitHeading, start: start, end: end, text: text, block: block})
			s.lastSkip = false
		}
		return
	}
	for _, sp := range splitSentences(raw) {
		text := cleanInline(raw[sp.start:sp.end])
		if text == "" {
			continue
		}
		s.units = append(s.units, unit{kind: unitSentence, start: start + sp.start, end: start + sp.end, text: text, block: block})
		s.lastSkip = false
	}
}

// splitSentences splits one block into trimmed sentence spans. It uses
// lexical.Sentences on a copy of the block with line breaks, quote markers,
// code spans and link destinations masked (same length, so offsets carry
// over), then repairs two UAX #29 weaknesses: it splits after Korean sentence
// endings followed by a lower-case Latin word (UAX #29 rule SB8 keeps
// "합니다. kubectl을" together), and it rejoins splits after common English
// abbreviations such as "Dr.".
func splitSentences(raw string) []span {
	masked := maskForSplit(raw)
	var spans []span
	pos := 0
	for _, sent := range lexical.Sentences(masked) {
		off := strings.Index(masked[pos:], sent)
		if off < 0 { // cannot happen: pieces are trimmed, in order
			continue
		}
		start := pos + off
		pos = start + len(sent)
		spans = appendKoreanSplits(spans, masked, start, pos)
	}
	// Rejoin splits after abbreviations and before Korean quotative
	// particles.
	out := spans[:0]
	for _, sp := range spans {
		if n := len(out); n > 0 {
			prev := masked[out[n-1].start:out[n-1].end]
			if endsWithAbbreviation(prev) || continuesQuotation(prev, masked[sp.start:sp.end]) {
				out[n-1].end = sp.end
				continue
			}
		}
		out = append(out, sp)
	}
	return out
}

// continuesQuotation reports whether next goes on with a quotative particle
// after a quoted sentence, as in `그는 "좋다." 라고 말했다.`, which UAX #29
// splits after the closing quote.
func continuesQuotation(prev, next string) bool {
	if !strings.HasSuffix(prev, `"`) && !strings.HasSuffix(prev, "'") &&
		!strings.HasSuffix(prev, "”") && !strings.HasSuffix(prev, "’") && !strings.HasSuffix(prev, "」") {
		return false
	}
	for _, p := range quotatives {
		if strings.HasPrefix(next, p) {
			return true
		}
	}
	return false
}

var quotatives = []string{"라고", "라며", "라는", "이라고", "이라며", "이라는", "하고 ", "고 ", "며 "}

// appendKoreanSplits appends [start, end) of s, split after every Hangul
// syllable followed by terminal punctuation, optional closing quotes or
// brackets, and white space.
func appendKoreanSplits(spans []span, s string, start, end int) []span {
	from := start
	for i := start; i < end; {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r < 0xAC00 || r > 0xD7A3 {
			continue
		}
		j := i
		for j < end && strings.IndexByte(".!?", s[j]) >= 0 {
			j++
		}
		if j == i {
			continue
		}
		for j < end && strings.IndexByte(`"')]`, s[j]) >= 0 {
			j++
		}
		k := j
		for k < end && s[k] == ' ' {
			k++
		}
		if k == j || k >= end {
			continue
		}
		spans = append(spans, span{from, j})
		from, i = k, k
	}
	return append(spans, span{from, end})
}

var abbreviations = []string{
	"Mr.", "Mrs.", "Ms.", "Dr.", "Prof.", "Sr.", "Jr.", "St.", "vs.", "etc.",
	"No.", "Fig.", "Inc.", "Ltd.", "Co.", "cf.", "approx.", "Vol.", "Ch.",
}

func endsWithAbbreviation(s string) bool {
	for _, a := range abbreviations {
		if strings.HasSuffix(s, a) {
			if len(s) == len(a) {
				return true
			}
			r, _ := utf8.DecodeLastRuneInString(s[:len(s)-len(a)])
			if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				return true
			}
		}
	}
	return false
}

// maskForSplit returns raw with line breaks and tabs turned into spaces,
// block-quote markers at line starts blanked, and the insides of code spans,
// link destinations and autolinks replaced by 'x', so that no sentence
// boundary can fall inside them. The result has the length of raw.
func maskForSplit(raw string) string {
	b := []byte(raw)
	lineStart := true
	var noCloser backtickMisses
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f':
			b[i] = ' '
			if c == '\n' {
				lineStart = true
			}
			continue
		case lineStart && c == ' ':
			continue
		case lineStart && c == '>':
			b[i] = ' '
			continue
		}
		lineStart = false
		switch {
		case c == '`':
			n := runLen(b, i, '`')
			if end := findBackticks(&noCloser, b, i+n, n); end >= 0 {
				fill(b[i+n:end], 'x')
				i = end + n - 1
			} else {
				i += n - 1
			}
		case c == '!' && i+1 < len(b) && b[i+1] == '[':
			b[i] = 'x' // an image's '!' is not an exclamation
		case c == '[' && i+1 < len(b) && b[i+1] == '^':
			if end := indexByteFrom(b, i+2, ']'); end >= 0 {
				fill(b[i:end+1], 'x') // footnote references are not sentence text
				i = end
			}
		case c == ']' && i+1 < len(b) && b[i+1] == '(':
			if end := closingParen(b, i+2); end >= 0 {
				fill(b[i+2:end], 'x')
				i = end
			}
		case c == '<' && (hasPrefixFold(b[i+1:], "http://") || hasPrefixFold(b[i+1:], "https://")):
			if end := indexByteFrom(b, i+1, '>'); end >= 0 {
				fill(b[i+1:end], 'x')
				i = end
			}
		}
	}
	return string(b)
}

func runLen(b []byte, i int, c byte) int {
	n := 0
	for i+n < len(b) && b[i+n] == c {
		n++
	}
	return n
}

// maxDestination bounds the search for the end of a link destination, so
// that many unclosed "](" cost linear time.
const maxDestination = 2048

// closingParen finds the ')' closing a link destination starting at from,
// allowing nested parentheses, within one line and maxDestination bytes.
func closingParen(b []byte, from int) int {
	depth := 0
	for i := from; i < len(b) && i-from < maxDestination; i++ {
		switch b[i] {
		case '(':
			depth++
		case ')':
			if depth == 0 {
				return i
			}
			depth--
		case '\n':
			return -1
		}
	}
	return -1
}

func indexByteFrom(b []byte, from int, c byte) int {
	for i := from; i < len(b); i++ {
		if b[i] == c {
			return i
		}
		if b[i] == ' ' {
			return -1
		}
	}
	return -1
}

func fill(b []byte, c byte) {
	for i := range b {
		b[i] = c
	}
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && strings.EqualFold(string(b[:len(prefix)]), prefix)
}

func splitLines(src string) []span {
	var lines []span
	for start := 0; start <= len(src); {
		end := strings.IndexByte(src[start:], '\n')
		next := 0
		if end < 0 {
			end = len(src)
			next = len(src) + 1
		} else {
			end += start
			next = end + 1
		}
		e := end
		if e > start && src[e-1] == '\r' {
			e--
		}
		lines = append(lines, span{start, e})
		start = next
	}
	return lines
}

func indentWidth(ws string) int {
	n := 0
	for _, c := range ws {
		if c == '\t' {
			n += 4 - n%4
		} else {
			n++
		}
	}
	return n
}

// frontMatterEnd returns the index of the line closing YAML front matter
// opened on line 0, or 0 when there is none.
func frontMatterEnd(src string, lines []span) int {
	for j := 1; j < len(lines); j++ {
		l := strings.TrimRight(src[lines[j].start:lines[j].end], " \t")
		if l == "---" || l == "..." {
			return j
		}
	}
	return 0
}

// atxHeadingContent returns the span of a heading's text without the
// opening and optional closing '#' sequences.
func atxHeadingContent(src string, cs, le int) (int, int) {
	hs := cs
	for hs < le && src[hs] == '#' {
		hs++
	}
	for hs < le && (src[hs] == ' ' || src[hs] == '\t') {
		hs++
	}
	he := le
	for he > hs && (src[he-1] == ' ' || src[he-1] == '\t') {
		he--
	}
	if t := strings.TrimRight(src[hs:he], "#"); len(t) < he-hs && (t == "" || strings.HasSuffix(t, " ") || strings.HasSuffix(t, "\t")) {
		he = hs + len(strings.TrimRight(t, " \t"))
	}
	return hs, he
}

func isThematicBreak(rest string) bool {
	var mark byte
	n := 0
	for i := 0; i < len(rest); i++ {
		switch c := rest[i]; c {
		case ' ', '\t':
		case '-', '*', '_':
			if mark != 0 && c != mark {
				return false
			}
			mark = c
			n++
		default:
			return false
		}
	}
	return n >= 3
}

// isTableDelimiter reports whether line is a table's delimiter row, such as
// "|---|:--:|" or "--- | ---".
func isTableDelimiter(line string) bool {
	if !strings.Contains(line, "|") || !strings.Contains(line, "-") {
		return false
	}
	return strings.Trim(line, "|-: \t") == ""
}

// isHTMLOnly reports whether a line consists of HTML tags only, such as
// "<details>" or "<img src=x> <br/>".
func isHTMLOnly(rest string) bool {
	if rest[0] != '<' {
		return false
	}
	return strings.TrimSpace(htmlTag.ReplaceAllString(rest, "")) == ""
}

func isASCIISpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// Compiled patterns are read-only and safe for concurrent use.
var (
	listItem    = regexp.MustCompile(`^(?:[-*+]|\d{1,9}[.)])(?:[ \t]+(?:\[[ xX]\][ \t]+)?|$)`)
	linkRefDef  = regexp.MustCompile(`^\[[^\]^][^\]]*\]:[ \t]*\S+[ \t]*(?:["'(].*)?$`)
	footnoteDef = regexp.MustCompile(`^\[\^[^\]]+\]:[ \t]*`)
	htmlTag     = regexp.MustCompile(`</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>`)
)
