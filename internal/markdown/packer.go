package markdown

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// unitKind says where a unit comes from, which decides how it is packed.
type unitKind uint8

const (
	kindProse   unitKind = iota // paragraph, list or quote text: overlap material
	kindHeading                 // a heading line
	kindCode                    // a line of a fenced code block, fences included
	kindTable                   // a table row (the first unit holds header and delimiter row)
)

// unit is the smallest piece the packer places: a sentence of prose, a line
// of code, a table row. Its text is the white space that preceded it in the
// source (the lead, dropped when the unit starts a chunk), the content,
// which is never only white space, and the line break ending it, if any.
type unit struct {
	text     string
	lead     int
	tokens   int  // tokens of text, lead included
	cut      bool // white space too long to carry was dropped before it: start a new chunk
	fragment bool // a piece of a sentence or line: not overlap material
	bound    bool // tokens is only an upper bound (the byte length): split it to learn more
}

// blockCtx is the context repeated around the pieces of a split code block
// or table. Both strings are empty when they would take more than half of
// MaxTokens.
type blockCtx struct {
	reopen    string // prefix of a chunk that starts inside the block
	reopenTok int
	close     string // suffix of a chunk that ends inside the block
	closeTok  int
}

// packer packs units into chunks of one section at a time.
type packer struct {
	c        *counter
	max      int
	maxBlock int
	overlap  int
	pack     int // see Options.PackTokens
	emit     func(Chunk)

	ordinal int
	path    []string // the current section's heading path
	// chunkPath is the heading path the chunk being built reports: the
	// path of its first unit, cut to what it shares with every section
	// packed into it since.
	chunkPath []string

	// The chunk being built.
	prefix    string // overlap or repeated block context
	prefixTok int
	body      strings.Builder
	bodyLead  int // bytes of body before the first unit's content (kept as separator after an overlap)
	bodyTok   int
	n         int // units in body
	// headingOnly: the chunk holds whole headings only, each starting
	// its section, to keep the next block with (a chunk that starts
	// inside a heading too long for one chunk does not count).
	headingOnly  bool
	sectionStart bool   // no unit of the current section is placed yet
	tail         []unit // trailing whole sentences of the chunk's prose, at most overlap tokens
	tailTok      int
	last         unit // the last unit in body
	lastInTail   bool

	prevTail []unit    // the previous chunk's tail, for the next chunk's overlap
	open     *blockCtx // a split code block or table is in progress
	opening  *blockCtx // the first unit of a split block is being added
}

func (p *packer) total() int { return p.prefixTok + p.bodyTok }

// reserve is the room kept for a closing fence.
func (p *packer) reserve() int {
	switch {
	case p.open != nil:
		return p.open.closeTok
	case p.opening != nil:
		return p.opening.closeTok
	}
	return 0
}

// freshRoom is the token room of an empty chunk (an overlap is trimmed to
// fit, so it does not count).
func (p *packer) freshRoom() int {
	if p.open != nil {
		return p.max - p.open.reopenTok - p.open.closeTok
	}
	return p.max - p.reserve()
}

// openBlock places the first unit of a code block or table that has to be
// split (its opening fence or header); the block's context then applies
// until closeBlock.
func (p *packer) openBlock(kind unitKind, u unit, ctx *blockCtx) {
	p.opening = ctx
	p.add(kind, u, false)
	p.opening = nil
	p.open = ctx
}

func (p *packer) closeBlock() { p.open = nil }

// startSection starts a section with heading path path: it ends the
// current chunk, unless that holds fewer than p.pack tokens (see
// Options.PackTokens; 1 MiB of "# a\n" made 262,144 chunks before); then
// the new section joins it, the chunk reports the heading path the two
// share, and no overlap carries one section's sentences into another.
func (p *packer) startSection(path []string) {
	if p.n > 0 && p.open == nil && p.total() < p.pack {
		p.chunkPath = commonPrefix(p.chunkPath, path)
		p.tail, p.tailTok = p.tail[:0], 0
	} else {
		p.flush()
	}
	p.path = path
	p.sectionStart = true
	p.prevTail = p.prevTail[:0]
	p.open = nil
}

func commonPrefix(a, b []string) []string {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return a[:n]
}

// add places one unit. closer marks the closing fence of a split code
// block, which replaces the synthesized closing fence.
func (p *packer) add(kind unitKind, u unit, closer bool) {
	if u.cut {
		p.flush()
	}
	reserve := p.reserve()
	if closer {
		reserve = 0
	}
	if p.n > 0 {
		// (A unit far too big cannot fit whatever the junction costs.)
		if !u.bound && p.total()+u.tokens+reserve <= p.max+junctionSlack {
			if cost := p.cost(u); p.total()+cost+reserve <= p.max {
				p.push(kind, u, cost)
				return
			}
		}
		if room := p.max - p.total() - reserve; room >= p.max/4 && (u.bound || u.tokens > p.freshRoom()) {
			// Too big for any chunk: fill this one first.
			p.addPieces(kind, u.text, room)
			return
		}
		p.flush()
	}
	u = p.begin(u, 0)
	if u.bound || u.tokens > p.freshRoom() {
		p.addPieces(kind, u.text, p.freshRoom())
		return
	}
	p.push(kind, u, u.tokens)
}

// addPieces splits text into pieces that fit and places them, the first
// into the current chunk (up to first tokens), the others each into a chunk
// of its own.
func (p *packer) addPieces(kind unitKind, text string, first int) {
	pieces, end := p.c.split(text, first, p.freshRoom())
	for i, pc := range pieces {
		if pc.text == "" {
			continue
		}
		u := unit{text: pc.text, tokens: pc.tokens, fragment: true}
		if lead := skipSpace(pc.text, 0); lead < len(pc.text) {
			u.lead = lead // dropped, or kept out of Body, should the piece start a chunk
		}
		cost := 0
		if i == 0 && p.n > 0 {
			cost = p.cost(u)
		}
		if i > 0 || p.n == 0 || p.total()+cost+p.reserve() > p.max {
			p.flush()
			u = p.begin(u, 0)
			cost = u.tokens
		}
		p.push(kind, u, cost)
	}
	if end < len(text) {
		p.trail(text[end:])
	}
}

// addGroup places a block that should stay in one chunk: a paragraph or
// table of at most MaxTokens, or a code block of at most MaxBlockTokens.
// ctx is the context for a table that has to be split after all.
func (p *packer) addGroup(kind unitKind, us []unit, total int, ctx *blockCtx) {
	if len(us) == 0 {
		return
	}
	if us[0].cut {
		p.flush()
	}
	if p.n > 0 {
		if p.total()+total+p.cost(us[0])-us[0].tokens <= p.max {
			p.pushAll(kind, us)
			return
		}
		if p.headingOnly {
			// Keep the block with its heading rather than leave the
			// heading alone in a chunk.
			switch {
			case kind == kindCode:
				if p.total()+total <= p.maxBlock {
					p.pushAll(kind, us)
					return
				}
			case kind == kindTable && ctx != nil:
				p.openBlock(kind, us[0], ctx)
				for _, u := range us[1:] {
					p.add(kind, u, false)
				}
				p.closeBlock()
				return
			default:
				for _, u := range us {
					p.add(kind, u, false)
				}
				return
			}
		}
		p.flush()
	}
	first := us[0]
	if total > p.max {
		if kind != kindCode {
			// Not expected: only code blocks are held beyond MaxTokens.
			for _, u := range us {
				p.add(kind, u, false)
			}
			return
		}
		// An oversized code block: a chunk of its own, without overlap.
		p.prevTail = p.prevTail[:0]
	}
	us[0] = p.begin(first, total-first.tokens)
	p.pushAll(kind, us)
}

// begin prepares an empty chunk for its first unit u, followed by rest more
// tokens: it sets the prefix (the open block's context, or an overlap of
// the previous chunk's trailing sentences trimmed to fit) and returns u,
// without its lead unless that separates it from an overlap or saves tokens.
// Either way the lead is not part of Body.
func (p *packer) begin(u unit, rest int) unit {
	p.headingOnly = p.sectionStart
	tail := p.prevTail
	p.prevTail = p.prevTail[:0]
	if p.open != nil {
		p.prefix, p.prefixTok = p.open.reopen, p.open.reopenTok
		tail = nil
	}
	if u.lead == 0 || len(tail) == 0 {
		u = p.bare(u)
		p.bodyLead = u.lead
		return u
	}
	tok := 0
	for _, t := range tail {
		tok += t.tokens
	}
	for len(tail) > 0 && tok+u.tokens+rest > p.max {
		tok -= tail[0].tokens
		tail = tail[1:]
	}
	if len(tail) == 0 {
		u = p.bare(u)
		p.bodyLead = u.lead
		return u
	}
	var b strings.Builder
	first := p.bare(tail[0])
	b.WriteString(first.text)
	for _, t := range tail[1:] {
		b.WriteString(t.text)
	}
	p.prefix, p.prefixTok = b.String(), tok+first.tokens-tail[0].tokens
	p.bodyLead = u.lead
	return u
}

// bare returns u without its lead, unless dropping the lead costs tokens
// (" Word" can be one token where "Word" is two). A lead kept at the start
// of a chunk is in Text but not in Body.
func (p *packer) bare(u unit) unit {
	if u.lead == 0 || joinsNext(u.text[u.lead:]) {
		return u
	}
	b := unit{text: u.text[u.lead:], fragment: u.fragment, bound: u.bound}
	if u.bound {
		b.tokens = len(b.text)
		return b
	}
	b.tokens = p.c.count(b.text)
	if b.tokens <= u.tokens {
		return b
	}
	return u
}

// joinsNext reports whether content, once its lead is dropped, could form
// one pretoken with the text that follows it, which would make the counts
// of the two no longer add up: a lone mark such as "." or "'" takes
// letters after it (".A" and "'s" are one pretoken each), while after a
// space it stands alone (" ." then "A").
func joinsNext(content string) bool {
	r, n := utf8.DecodeRuneInString(content)
	return n == len(content) && r != '\r' && r != '\n' && !isLetter(r) && !isNumber(r) && !isSpace(r)
}

// junctionSlack bounds how many tokens joining a fragment could save.
const junctionSlack = 16

// cost is what u adds to the tokens of the chunk: its own count, unless it
// follows a fragment. A fragment can start inside what the tokenizer takes
// as one pretoken, and then its end can merge with what follows ("%" and
// "A0" are two tokens, "%A0" is one), so the two are counted together.
func (p *packer) cost(u unit) int {
	if p.n == 0 || !p.last.fragment {
		return u.tokens
	}
	return p.c.count(p.last.text+u.text) - p.last.tokens
}

func (p *packer) pushAll(kind unitKind, us []unit) {
	for _, u := range us {
		p.push(kind, u, p.cost(u))
	}
}

// push appends u, which adds cost tokens, to the chunk.
func (p *packer) push(kind unitKind, u unit, cost int) {
	if p.n == 0 {
		p.chunkPath = p.path
	}
	p.body.WriteString(u.text)
	p.bodyTok += cost
	joined := p.n > 0 && p.last.fragment
	if joined {
		// Keep counting the end from the fragment on, see cost.
		p.last = unit{text: p.last.text + u.text, tokens: p.last.tokens + cost, fragment: u.fragment}
	} else {
		p.last = u
	}
	p.n++
	p.lastInTail = false
	p.sectionStart = false
	if kind != kindHeading {
		p.headingOnly = false
	}
	if kind != kindProse || u.fragment || joined || p.overlap <= 0 {
		p.tail, p.tailTok = p.tail[:0], 0
		return
	}
	p.tail = append(p.tail, u)
	p.tailTok += u.tokens
	p.lastInTail = true
	p.trimTail()
}

// trimTail keeps the longest run of trailing sentences within the overlap.
func (p *packer) trimTail() {
	drop := 0
	for p.tailTok > p.overlap && drop < len(p.tail) {
		p.tailTok -= p.tail[drop].tokens
		drop++
	}
	if drop > 0 {
		p.tail = append(p.tail[:0], p.tail[drop:]...)
	}
	if len(p.tail) == 0 {
		p.lastInTail = false
	}
}

// trail appends white space to the last unit. If the chunk has no room
// for it, the chunk ends there.
func (p *packer) trail(ws string) {
	if p.n == 0 {
		return
	}
	t := p.c.count(p.last.text + ws)
	delta := t - p.last.tokens
	if delta > 0 && p.total()+delta+p.reserve() > p.max {
		p.flush()
		return
	}
	p.body.WriteString(ws)
	p.bodyTok += delta
	p.last.text += ws
	p.last.tokens = t
	if p.lastInTail {
		p.tail[len(p.tail)-1] = p.last
		p.tailTok += delta
		p.trimTail()
	}
}

// flush emits the current chunk, if it has any units.
func (p *packer) flush() {
	if p.n > 0 {
		full := p.body.String()
		body := strings.TrimRightFunc(full, unicode.IsSpace)
		text, tokens := p.prefix+body, p.total()
		suffix := ""
		if p.open != nil {
			suffix = p.open.close
		}
		if suffix != "" || len(body) < len(full) {
			// Count the end again as it is in Text: followed by the closing
			// fence, if any, and trimmed, unless the trailing white space
			// saves tokens ("|)\n" can be fewer than "|)"). The untrimmed
			// end never needs more than the room the units were packed into.
			last := strings.TrimRightFunc(p.last.text, unicode.IsSpace)
			trimmed := p.c.count(last + suffix)
			keptSuffix := suffix
			if strings.HasSuffix(full, "\n") {
				keptSuffix = strings.TrimPrefix(suffix, "\n")
			}
			untrimmed := p.c.count(p.last.text + keptSuffix)
			if trimmed <= untrimmed {
				text += suffix
				tokens += trimmed - p.last.tokens
			} else {
				text = p.prefix + full + keptSuffix
				tokens += untrimmed - p.last.tokens
			}
		}
		path := make([]string, len(p.chunkPath))
		copy(path, p.chunkPath)
		p.emit(Chunk{
			Ordinal:     p.ordinal,
			HeadingPath: path,
			Text:        text,
			Body:        body[p.bodyLead:],
			Tokens:      tokens,
		})
		p.ordinal++
		p.prevTail = append(p.prevTail[:0], p.tail...)
	}
	p.prefix, p.prefixTok = "", 0
	p.body.Reset()
	p.bodyLead, p.bodyTok, p.n = 0, 0, 0
	p.tail, p.tailTok = p.tail[:0], 0
	p.headingOnly = false
}
