// Package markdown is a streaming, Markdown-aware chunker: it turns a
// Markdown document of any size, read from an io.Reader, into chunks of at
// most a given number of cl100k_base tokens for embedding.
//
// Memory stays bounded whatever the input size and line length: the input
// is read in segments of 64 KiB, a longer line is handled in pieces split at
// rune boundaries, and a block is held back only while it may still go into
// one chunk (at most MaxBlockTokens worth of text). Chunking 200 MiB keeps
// the heap around 12 MiB.
//
// The block scanner is line based and CommonMark-ish: ATX headings, setext
// headings (under a one-line paragraph), fenced code blocks (``` or ~~~;
// an unclosed fence runs to the end), GFM tables (a row with | followed by
// a delimiter row with as many cells; rows continue while lines contain |),
// and everything else (paragraphs, lists, quotes, indented code, HTML) as
// paragraph text that runs until a blank line, an ATX heading or a code
// fence. YAML front matter at the very start is parsed and removed.
//
// Chunks never span two sections: a heading starts a new chunk and its line
// opens the chunk's Body. Within a section, whole blocks are packed into
// chunks of up to MaxTokens. A paragraph too big for one chunk is split
// between sentences (UAX #29 via lexical.Sentences, so Korean 다. ? ! end
// sentences; a line break before a list item or quote line ends one too), a
// sentence too big at white space, and a word too big at rune boundaries. A
// code block of up to MaxBlockTokens is never split; a bigger one is split
// between lines, and every piece's Text is a fenced block of its own. A
// table is split between rows, and every piece after the first repeats the
// header and delimiter rows in its Text. A chunk that continues a section
// after prose starts its Text with the previous chunk's trailing whole
// sentences, up to OverlapTokens.
//
// Guarantees, checked by the tests and the fuzz target:
//
//   - Every Body is a contiguous span of the input (after BOM removal, LF
//     line endings and front matter removal) that starts with a non-blank
//     line and ends without white space. Bodies follow the input order
//     without overlapping, and only white space lies between them. So the
//     Bodies, concatenated with white space removed, equal the input with
//     white space removed.
//   - Text contains Body; neither is empty or white space only.
//   - Tokens ≤ MaxTokens, except for a chunk made of one unsplit code block
//     that does not fit MaxTokens, after the headings of the sections it
//     opens if any (heading-only sections are packed, see PackTokens): its
//     Tokens ≤ MaxBlockTokens.
//   - Tokens is the tokenizer's count of Text, though counted piece by
//     piece: units are cut at the tokenizer's pretoken boundaries, so their
//     counts add up, and where a piece had to be cut inside a pretoken the
//     junction with what follows is counted together.
//   - Context is only added when it fits: a table header or fence lines
//     taking more than half of MaxTokens are not repeated.
package markdown

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"
)

// ErrNotText is returned, wrapped with the byte offset, when the input is
// not UTF-8 text: invalid UTF-8 or a NUL byte.
var ErrNotText = errors.New("not UTF-8 text")

// Defaults and limits of Options.
const (
	DefaultMaxTokens     = 512
	DefaultOverlapTokens = 64
	// MinMaxTokens is the smallest MaxTokens accepted.
	MinMaxTokens = 8
	// frontMatterCap bounds the YAML front matter.
	frontMatterCap = 64 << 10
)

// Options configure a Chunker. The zero value selects the defaults.
type Options struct {
	// MaxTokens is the token budget of a chunk. Default 512; at least
	// MinMaxTokens.
	MaxTokens int
	// OverlapTokens bounds the overlap carried into the next chunk of the
	// same section: the previous chunk's trailing whole sentences of prose.
	// It must be less than MaxTokens. Default 64, or MaxTokens/4 if that is
	// less; a negative value disables overlap.
	OverlapTokens int
	// MaxBlockTokens is the size, fences included, up to which a fenced
	// code block is never split. Default 4*MaxTokens.
	MaxBlockTokens int
	// PackTokens: while a chunk holds fewer tokens than this, a heading
	// does not end it; the next section is packed into it, so the chunk
	// count follows the token count, not the heading count. Default
	// MaxTokens/8; a negative value gives every section its own chunks.
	PackTokens int
	// Tokens, when set, is a token-count cache shared with other chunkers.
	Tokens *TokenCache
}

// withDefaults fills in defaults and validates o.
func (o Options) withDefaults() (Options, error) {
	if o.MaxTokens < 0 {
		return o, fmt.Errorf("markdown options: MaxTokens %d is negative", o.MaxTokens)
	}
	o.MaxTokens = cmp.Or(o.MaxTokens, DefaultMaxTokens)
	if o.MaxTokens < MinMaxTokens {
		return o, fmt.Errorf("markdown options: MaxTokens %d is below the minimum %d", o.MaxTokens, MinMaxTokens)
	}
	o.OverlapTokens = cmp.Or(o.OverlapTokens, min(DefaultOverlapTokens, o.MaxTokens/4))
	if o.OverlapTokens >= o.MaxTokens {
		return o, fmt.Errorf("markdown options: OverlapTokens %d must be less than MaxTokens %d", o.OverlapTokens, o.MaxTokens)
	}
	if o.MaxBlockTokens < 0 {
		return o, fmt.Errorf("markdown options: MaxBlockTokens %d is negative", o.MaxBlockTokens)
	}
	o.MaxBlockTokens = cmp.Or(o.MaxBlockTokens, 4*o.MaxTokens)
	o.PackTokens = min(cmp.Or(o.PackTokens, o.MaxTokens/8), o.MaxTokens)
	return o, nil
}

// Chunk is one piece of the document.
type Chunk struct {
	// Ordinal is the chunk's 0-based position; ordinals are dense.
	Ordinal int
	// HeadingPath holds the titles of the enclosing headings, outermost
	// first, without the #'s, e.g. ["Guide", "설치", "Linux"]. It is empty
	// but not nil before the first heading. Each chunk has its own slice.
	// A title is cut to 1 KiB.
	HeadingPath []string
	// Text is what is embedded and shown: Body plus context, namely an
	// overlap of the previous chunk's trailing sentences (same section
	// only, never from code or tables), a repeated table header, or the
	// fences of a split code block.
	Text string
	// Body is exactly the source text the chunk covers, nothing
	// synthesized (LF line endings).
	Body string
	// Tokens is the cl100k_base token count of Text, as counted by
	// github.com/tiktoken-go/tokenizer (see the package doc).
	Tokens int
}

// Chunker reads a Markdown document and returns its chunks one by one.
// It is not safe for concurrent use.
type Chunker struct {
	lr *lineReader
	sc *scanner

	out  []Chunk // chunks ready to return
	head int

	fmState int // frontMatterStart, frontMatterCollect or frontMatterDone
	fmBuf   []byte
	fm      map[string]any

	eof bool
	err error
}

const (
	frontMatterStart = iota
	frontMatterCollect
	frontMatterDone
)

// NewChunker returns a Chunker reading r. It reports an error, naming the
// field, if opts are invalid.
func NewChunker(r io.Reader, opts Options) (*Chunker, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	c, err := newCounter(opts.Tokens)
	if err != nil {
		return nil, err
	}
	ch := &Chunker{lr: newLineReader(r)}
	p := &packer{
		c:        c,
		max:      opts.MaxTokens,
		maxBlock: opts.MaxBlockTokens,
		overlap:  opts.OverlapTokens,
		pack:     opts.PackTokens,
		path:     []string{},
	}
	p.emit = func(c Chunk) { ch.out = append(ch.out, c) }
	ch.sc = &scanner{c: c, p: p}
	return ch, nil
}

// Next returns the next chunk, or io.EOF after the last one. Input that is
// not UTF-8 text yields an error wrapping ErrNotText; a read error is
// returned wrapped. After an error, Next keeps returning it.
func (c *Chunker) Next() (Chunk, error) {
	for c.head == len(c.out) {
		c.out, c.head = c.out[:0], 0
		if c.err != nil {
			return Chunk{}, c.err
		}
		if c.eof {
			return Chunk{}, io.EOF
		}
		piece, first, eol, err := c.lr.next()
		switch {
		case errors.Is(err, io.EOF):
			c.finish()
			c.eof = true
		case err != nil:
			c.err = err
			return Chunk{}, err
		default:
			c.feed(piece, first, eol)
		}
	}
	ch := c.out[c.head]
	c.out[c.head] = Chunk{}
	c.head++
	return ch, nil
}

// FrontMatter returns the document's YAML front matter as decoded by
// go.yaml.in/yaml/v3, or nil if it has none. Front matter that is not a
// YAML mapping, does not parse or exceeds 64 KiB is chunked as text
// instead, and FrontMatter is nil. Empty front matter gives an empty map.
// The result is valid after the first call of Next.
func (c *Chunker) FrontMatter() map[string]any { return c.fm }

// BytesRead returns the number of bytes read from the underlying reader so
// far. Reads are buffered, so it may run up to 64 KiB ahead of the chunks
// returned; after io.EOF it is the input size.
func (c *Chunker) BytesRead() int64 { return c.lr.src.n }

// feed routes a piece of a line through front matter detection to the
// block scanner.
func (c *Chunker) feed(piece []byte, first, eol bool) {
	switch c.fmState {
	case frontMatterStart:
		c.fmState = frontMatterDone
		if first && eol && isFrontMatterFence(trimEOL(piece), "---") {
			c.fmState = frontMatterCollect
			c.fmBuf = append(c.fmBuf[:0], piece...)
			return
		}
	case frontMatterCollect:
		if !eol || len(c.fmBuf)+len(piece) > frontMatterCap {
			c.replayFrontMatter()
			break
		}
		line := trimEOL(piece)
		if !isFrontMatterFence(line, "---") && !isFrontMatterFence(line, "...") {
			c.fmBuf = append(c.fmBuf, piece...)
			return
		}
		open := bytes.IndexByte(c.fmBuf, '\n') + 1
		if m, ok := parseFrontMatter(c.fmBuf[open:]); ok {
			c.fm = m
			c.fmBuf, c.fmState = nil, frontMatterDone
			return
		}
		c.fmBuf = append(c.fmBuf, piece...)
		c.replayFrontMatter()
		return
	}
	c.sc.feed(piece, first, eol)
}

// replayFrontMatter feeds the lines held as possible front matter to the
// scanner as ordinary text.
func (c *Chunker) replayFrontMatter() {
	c.fmState = frontMatterDone
	for line := range bytes.SplitAfterSeq(c.fmBuf, []byte{'\n'}) {
		if len(line) > 0 {
			c.sc.feed(line, true, true)
		}
	}
	c.fmBuf = nil
}

func (c *Chunker) finish() {
	if c.fmState == frontMatterCollect {
		c.replayFrontMatter()
	}
	c.sc.finish()
}

func isFrontMatterFence(line []byte, fence string) bool {
	return bytes.HasPrefix(line, []byte(fence)) && isBlank(line[len(fence):])
}

// parseFrontMatter parses YAML front matter, which must be a mapping (or
// empty). A panic in the YAML decoder on hostile input counts as a parse
// failure: the text is then chunked as ordinary content.
func parseFrontMatter(b []byte) (m map[string]any, ok bool) {
	defer func() {
		if recover() != nil {
			m, ok = nil, false
		}
	}()
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, false
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, true
}
