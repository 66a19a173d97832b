package markdown

import (
	"bytes"
	"strings"

	"github.com/protostar/protostar/internal/lexical"
)

const (
	// gapCap bounds the white space carried between two units. Longer runs
	// are dropped and a chunk boundary takes their place.
	gapCap = 1 << 10
	// maxHeadingBytes bounds one HeadingPath entry.
	maxHeadingBytes = 1 << 10
)

type blockState uint8

const (
	stNone  blockState = iota
	stText             // paragraph, list, quote, or a heading line
	stCode             // fenced code block
	stTable            // table rows
)

type heading struct {
	level int
	title string
}

// scanner is the line-based block scanner. It cuts blocks into units and
// hands them to the packer, holding back a block that should stay whole
// until it is complete or known to be too big.
type scanner struct {
	c *counter
	p *packer

	state     blockState
	gap       []byte // white space since the last unit, to lead the next
	gapCut    bool   // part of it was dropped
	trailSize int    // bytes of blank lines added to the last unit

	// stText: pending text, which starts with the white space before it.
	text      []byte
	textKind  unitKind
	textCut   bool
	lastLine  int // offset in text of its last complete line, or -1 once text was cut
	textLines int
	ends      []int // scratch for processText
	held      unit  // the last unit of text, see emitText
	hasHeld   bool

	// A block's units, held while it may still go into one chunk.
	pend      []unit
	pendKind  unitKind
	pendTok   int
	streaming bool

	headings []heading

	// stCode and stTable.
	fenceCh  byte
	fenceLen int
	ctx      blockCtx
}

// feed takes the next piece of a line (see lineReader.next).
func (s *scanner) feed(piece []byte, first, eol bool) {
	if !first {
		s.continueLine(piece, eol)
		return
	}
	line := trimEOL(piece)
	switch s.state {
	case stCode:
		if eol && isFenceClose(line, s.fenceCh, s.fenceLen) {
			s.closeCode(piece)
			return
		}
		s.lineUnit(kindCode, piece)
		return
	case stTable:
		if isTableRow(line) && !interrupts(line, eol) {
			s.lineUnit(kindTable, piece)
			return
		}
		s.endBlock()
	case stText:
		if eol && s.lastLine >= 0 && s.textKind == kindProse {
			if lvl := setextLevel(line); lvl > 0 && s.textLines == 1 {
				s.setext(lvl, piece)
				return
			}
			if header := trimEOL(s.text[s.lastLine:]); isTableRow(header) && delimiterCells(line) == tableCells(header) {
				s.startTable(piece)
				return
			}
		}
		if !(eol && isBlank(line)) && !interrupts(line, eol) {
			s.appendText(piece, true, eol)
			return
		}
		s.endBlock()
	}
	switch {
	case eol && isBlank(line):
		s.addGap(piece)
	case s.atx(line, piece, eol):
	case eol && s.openCode(line, piece):
	default:
		s.startText(kindProse)
		s.appendText(piece, true, eol)
	}
}

// interrupts reports whether line ends a paragraph or table: an ATX
// heading or an opening code fence.
func interrupts(line []byte, eol bool) bool {
	if _, _, ok := atxHeading(line); ok {
		return true
	}
	if !eol {
		return false
	}
	_, _, ok := fenceOpen(line)
	return ok
}

// continueLine takes a further piece of a line too long for one segment.
func (s *scanner) continueLine(piece []byte, eol bool) {
	switch s.state {
	case stText:
		s.appendText(piece, false, eol)
		if eol && s.textKind == kindHeading {
			s.endBlock()
		}
	case stCode:
		s.lineUnit(kindCode, piece)
	case stTable:
		s.lineUnit(kindTable, piece)
	}
}

// finish ends the last block and emits the last chunk.
func (s *scanner) finish() {
	s.endBlock()
	s.p.flush()
	s.p.closeBlock()
}

// endBlock ends the current block, if any.
func (s *scanner) endBlock() {
	switch s.state {
	case stText:
		s.processText(true)
		s.endGroup(s.textKind)
	case stCode:
		// Unclosed: the block runs to the end of the input. A split one
		// stays open, so the last piece gets a closing fence.
		s.endGroup(kindCode)
		return
	case stTable:
		s.endGroup(kindTable)
		s.p.closeBlock()
	}
	s.state = stNone
}

// addGap records white space between units: whole lines trail the last
// unit (where cl100k_base merges them with its line break), the rest leads
// the next unit.
func (s *scanner) addGap(ws []byte) {
	if s.gapCut {
		return
	}
	if i := bytes.LastIndexByte(ws, '\n'); i >= 0 && len(s.gap) == 0 {
		if s.trailSize += i + 1; s.trailSize > gapCap {
			s.gapCut = true
			return
		}
		s.trail(string(ws[:i+1]))
		ws = ws[i+1:]
	}
	if len(s.gap)+len(ws) > gapCap {
		s.gap, s.gapCut = s.gap[:0], true
		return
	}
	s.gap = append(s.gap, ws...)
}

// trail appends white space to the last unit.
func (s *scanner) trail(ws string) {
	if s.streaming || len(s.pend) == 0 {
		s.p.trail(ws)
		return
	}
	u := &s.pend[len(s.pend)-1]
	old := u.tokens
	u.text += ws
	u.tokens = s.c.count(u.text)
	if s.pendTok += u.tokens - old; s.pendTok > s.limit(s.pendKind) {
		s.startStreaming(s.pendKind)
	}
}

// takeGap returns and clears the pending white space.
func (s *scanner) takeGap() (string, bool) {
	g, cut := string(s.gap), s.gapCut
	s.gap, s.gapCut = s.gap[:0], false
	return g, cut
}

// --- grouping -------------------------------------------------------------

func (s *scanner) limit(kind unitKind) int {
	if kind == kindCode {
		return s.p.maxBlock
	}
	return s.p.max
}

// emit hands a unit of the current block on, or holds it while the block
// may still go into a chunk whole.
func (s *scanner) emit(kind unitKind, u unit) {
	s.trailSize = 0
	if !s.streaming && u.cut && len(s.pend) > 0 {
		s.startStreaming(kind)
	}
	if s.streaming {
		s.p.add(kind, u, false)
		return
	}
	s.pend = append(s.pend, u)
	s.pendKind = kind
	s.pendTok += u.tokens
	if s.pendTok > s.limit(kind) {
		s.startStreaming(kind)
	}
}

// startStreaming gives up keeping the current block whole: its held units
// and all later ones go to the packer one by one.
func (s *scanner) startStreaming(kind unitKind) {
	s.streaming = true
	for i, u := range s.pend {
		if i == 0 && (kind == kindCode || kind == kindTable) {
			// The first unit opens the block (fence or table header).
			ctx := s.ctx
			s.p.openBlock(kind, u, &ctx)
			continue
		}
		s.p.add(kind, u, false)
	}
	s.pend, s.pendTok = s.pend[:0], 0
}

// endGroup ends the current block's units.
func (s *scanner) endGroup(kind unitKind) {
	if !s.streaming && len(s.pend) > 0 {
		var ctx *blockCtx
		if kind == kindTable {
			ctx = &blockCtx{}
			*ctx = s.ctx
		}
		s.p.addGroup(kind, s.pend, s.pendTok, ctx)
	}
	s.pend, s.pendTok, s.streaming = s.pend[:0], 0, false
}

// --- text blocks ----------------------------------------------------------

func (s *scanner) startText(kind unitKind) {
	s.state, s.textKind = stText, kind
	g, cut := s.takeGap()
	s.text = append(s.text[:0], g...)
	s.textCut = cut
	s.lastLine, s.textLines = -1, 0
}

// appendText adds a piece of a line to the pending text. lastLine tracks a
// complete last line, the candidate for a setext heading or table header.
func (s *scanner) appendText(piece []byte, first, eol bool) {
	s.lastLine = -1
	if first {
		s.textLines++
		if eol {
			s.lastLine = len(s.text)
		}
	}
	s.text = append(s.text, piece...)
	if len(s.text) > segmentSize {
		s.processText(false)
	}
}

// processText cuts the pending text into sentence units. Unless final, the
// last sentence is kept, as it may continue; if it is longer than a segment
// its part up to the last white space is emitted anyway.
//
// White space between two sentences up to its last line break trails the
// first, the rest leads the second. That cut, and any cut UAX #29 makes
// inside what cl100k_base treats as one pretoken (as in "!$"), is moved to
// the next pretoken boundary, so the units' token counts, taken from one
// pass over the pretokens, add up exactly.
func (s *scanner) processText(final bool) {
	str := string(s.text)
	view := sentenceView(s.text)
	sents := lexical.Sentences(view)
	n := len(sents)
	if !final && n > 0 {
		n--
	}
	// ends[i] is where unit i should end: after the last line break
	// following sentence i, else right after it.
	ends := s.ends[:0]
	prevEnd := 0
	for i, sent := range sents {
		start := skipSpace(view, prevEnd)
		if !strings.HasPrefix(view[start:], sent) {
			start = prevEnd + strings.Index(view[prevEnd:], sent)
		}
		if i > 0 {
			ends = append(ends, prevEnd+strings.LastIndexByte(str[prevEnd:start], '\n')+1)
		}
		if i == n {
			break
		}
		prevEnd = start + len(sent)
	}
	if final && n > 0 {
		ends = append(ends, prevEnd+strings.LastIndexByte(str[prevEnd:], '\n')+1)
	}
	s.ends = ends

	start, tok, pos := 0, 0, 0
	for k := 0; k < len(ends); {
		end, t := s.c.next(str, pos)
		pos, tok = end, tok+t
		if pos < ends[k] {
			continue
		}
		s.emitText(str[start:pos], tok)
		start, tok = pos, 0
		for k < len(ends) && ends[k] <= pos {
			k++
		}
	}
	s.flushText()
	rest := str[start:]
	if final {
		s.text = s.text[:0]
		if s.textCut {
			s.gapCut = true
		}
		s.addGap([]byte(rest))
		return
	}
	if len(rest) > segmentSize {
		content := skipSpace(rest, 0)
		if content == len(rest) {
			rest = "" // white space only: too long to carry
			s.textCut = true
		} else {
			// Counted when the packer splits it, as it surely needs to be.
			cut := lastWordEnd(rest, content)
			s.emitText(rest[:cut], len(rest[:cut]))
			s.held.fragment, s.held.bound = true, true
			s.flushText()
			rest = rest[cut:]
		}
	}
	s.text = append(s.text[:0], rest...)
	s.lastLine = -1
}

// emitText takes the next unit of text, with its token count. It is held
// until the next one, so that a unit of white space only (left by moving a
// cut to a pretoken boundary) can be added to it.
func (s *scanner) emitText(text string, tokens int) {
	lead := skipSpace(text, 0)
	if lead == len(text) && s.hasHeld {
		s.held.text += text
		s.held.tokens += tokens
		return
	}
	s.flushText()
	u := unit{text: text, lead: lead, tokens: tokens, cut: s.textCut}
	s.textCut = false
	if lead > gapCap {
		u.text, u.lead, u.cut = text[lead:], 0, true
		u.tokens = s.c.count(u.text)
		// Counted with what follows if it could join it (see joinsNext).
		u.fragment = u.fragment || joinsNext(u.text)
	}
	s.held, s.hasHeld = u, true
}

// flushText passes the held unit on.
func (s *scanner) flushText() {
	if s.hasHeld {
		s.hasHeld = false
		s.emit(s.textKind, s.held)
	}
}

// lastWordEnd returns the end of the last word of s (where its last white
// space run starts), or len(s) if s ends in a word or has no white space
// after from.
func lastWordEnd(s string, from int) int {
	end := len(s)
	i := skipSpaceBack(s, end)
	if i < end {
		return i // s ends in white space
	}
	for i > from {
		j := strings.LastIndexAny(s[from:i], " \t\n")
		if j < 0 {
			break
		}
		j += from
		if k := skipSpaceBack(s, j+1); k > from {
			return k
		}
		i = j
	}
	return end
}

func skipSpaceBack(s string, i int) int {
	for i > 0 && (s[i-1] == ' ' || s[i-1] == '\t' || s[i-1] == '\n') {
		i--
	}
	return i
}

// sentenceView returns b with soft line breaks turned into spaces, so that
// a sentence wrapped over lines is one sentence. A break before a list
// item or quote line stays. Byte offsets are unchanged.
func sentenceView(b []byte) string {
	v := []byte(string(b))
	for i, c := range v {
		if c == '\n' && i+1 < len(v) && !startsList(v[i+1:]) {
			v[i] = ' '
		}
	}
	return string(v)
}

// --- headings -------------------------------------------------------------

// atx handles an ATX heading line, reporting false if line is none.
func (s *scanner) atx(line, piece []byte, eol bool) bool {
	level, title, ok := atxHeading(line)
	if !ok {
		return false
	}
	s.startSection(level, title)
	s.startText(kindHeading)
	s.appendText(piece, true, eol)
	if eol {
		s.endBlock()
	}
	return true
}

// setext turns the paragraph's only line into a heading underlined by
// piece.
func (s *scanner) setext(level int, piece []byte) {
	title := trimEOL(s.text[s.lastLine:])
	s.startSection(level, []byte(strings.TrimSpace(string(title))))
	s.textKind = kindHeading
	s.text = append(s.text, piece...)
	s.endBlock()
}

func (s *scanner) startSection(level int, title []byte) {
	h := s.headings
	for len(h) > 0 && h[len(h)-1].level >= level {
		h = h[:len(h)-1]
	}
	s.headings = append(h, heading{level: level, title: string(truncateRunes(title, maxHeadingBytes))})
	path := make([]string, len(s.headings))
	for i, h := range s.headings {
		path[i] = h.title
	}
	s.p.startSection(path)
}

// --- code blocks and tables -----------------------------------------------

// openCode starts a code block if line is an opening fence.
func (s *scanner) openCode(line, piece []byte) bool {
	ch, n, ok := fenceOpen(line)
	if !ok {
		return false
	}
	s.state, s.fenceCh, s.fenceLen = stCode, ch, n
	opener := strings.TrimRight(string(line), " \t")
	s.setContext(opener+"\n", "\n"+strings.TrimLeft(opener, " ")[:n])
	s.lineUnit(kindCode, piece)
	return true
}

func (s *scanner) closeCode(piece []byte) {
	g, cut := s.takeGap()
	u := s.newUnit(g, piece, cut)
	s.trailSize = 0
	if s.streaming {
		s.p.add(kindCode, u, true)
		s.p.closeBlock()
	} else {
		s.pend = append(s.pend, u)
		s.pendTok += u.tokens
		if s.pendTok > s.limit(kindCode) {
			s.pend = s.pend[:len(s.pend)-1]
			s.pendTok -= u.tokens
			s.startStreaming(kindCode)
			s.p.add(kindCode, u, true)
			s.p.closeBlock()
		}
	}
	s.endGroup(kindCode)
	s.state = stNone
}

// startTable turns the paragraph's last line into a table header followed
// by the delimiter row delim.
func (s *scanner) startTable(delim []byte) {
	header := string(s.text[s.lastLine:])
	s.text = s.text[:s.lastLine]
	s.processText(true)
	s.endGroup(s.textKind)
	s.state = stTable
	s.setContext(header+string(trimEOL(delim))+"\n", "")
	g, cut := s.takeGap()
	s.emit(kindTable, s.newUnit(g, append([]byte(header), delim...), cut))
}

// setContext sets the context of a split code block or table, unless it
// would take more than half of MaxTokens.
func (s *scanner) setContext(reopen, close string) {
	rt, ct := s.c.count(reopen), s.c.count(close)
	if rt+ct > s.p.max/2 {
		s.ctx = blockCtx{}
		return
	}
	s.ctx = blockCtx{reopen: reopen, reopenTok: rt, close: close, closeTok: ct}
}

// lineUnit makes a unit of one line (or piece of a line) of code or table,
// LF included. A blank one is white space before the next unit.
func (s *scanner) lineUnit(kind unitKind, piece []byte) {
	if isSpaceOnlyBytes(piece) {
		s.addGap(piece)
		return
	}
	g, cut := s.takeGap()
	u := s.newUnit(g, piece, cut)
	u.fragment = piece[len(piece)-1] != '\n' // the line goes on in the next piece
	s.emit(kind, u)
}

// newUnit makes a unit of content after the white space gap.
func (s *scanner) newUnit(gap string, content []byte, cut bool) unit {
	u := unit{text: gap + string(content), lead: len(gap), cut: cut}
	u.tokens = s.c.count(u.text)
	return u
}
