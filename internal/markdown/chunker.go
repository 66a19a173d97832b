// Package markdown is a streaming, Markdown-aware chunker: it turns a
// Markdown document of any size, read from an io.Reader, into chunks of at
// most a given number of tokens for embedding.
//
// Memory stays bounded whatever the input size and line length: the input
// is read in segments of 64 KiB, a longer line is handled in pieces split at
// rune boundaries, and a block is held only while it may still go into one
// chunk (at most MaxBlockTokens worth of text).
//
// The block scanner is line based and CommonMark-ish: ATX and setext
// headings, fenced code blocks, GFM tables, and everything else
// (paragraphs, lists, quotes, indented code, HTML) as paragraph text that
// runs until a blank line, a heading or a code fence. YAML front matter at
// the very start is parsed and removed.
//
// Chunks never span two sections (a heading starts a new chunk). Within a
// section, whole blocks are packed into chunks of up to MaxTokens. A
// paragraph too big for one chunk is split at sentence boundaries (UAX #29,
// so Korean 다. ? ! end sentences; a line break ends a sentence before a
// list item or quote line), a sentence too big at white space, and a word
// too big at rune boundaries. A code block of up to MaxBlockTokens is never
// split; a bigger one is split at line boundaries and every piece's Text is
// a valid fenced block. A table is split at row boundaries and every piece
// after the first repeats the header and delimiter rows in its Text.
//
// Guarantees, checked by the tests and the fuzz target:
//
//   - Every chunk's Body is a contiguous span of the input (after BOM
//     removal and CRLF normalisation) without leading or trailing white
//     space, the Bodies come in input order and do not overlap, and the
//     input between two Bodies is white space only. So the Bodies,
//     concatenated with white space removed, equal the input with white
//     space removed (minus front matter that parsed).
//   - No chunk has an empty Text or Body.
//   - Tokens ≤ MaxTokens, with two exceptions: a chunk holding an unsplit
//     code block larger than MaxTokens (alone, or after its section's
//     heading) has Tokens ≤ MaxBlockTokens; and a single rune that on its
//     own exceeds the room left beside the repeated context cannot be split
//     further (only possible when MaxTokens is below 16).
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
	// same section. It must be less than MaxTokens. Default 64, or
	// MaxTokens/4 if that is less; a negative value disables overlap.
	OverlapTokens int
	// MaxBlockTokens is the size up to which a fenced code block is never
	// split. Default 4*MaxTokens.
	MaxBlockTokens int
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
	// Tokens is the cl100k_base token count of Text, computed by counting
	// each piece (sentence, line, row, context) once and summing. It can
	// differ from a count of the whole Text by the few tokens BPE merges
	// across piece boundaries.
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
	c, err := newCounter()
	if err != nil {
		return nil, err
	}
	ch := &Chunker{lr: newLineReader(r)}
	p := &packer{
		c:        c,
		max:      opts.MaxTokens,
		maxBlock: opts.MaxBlockTokens,
		overlap:  opts.OverlapTokens,
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

// FrontMatter returns the document's YAML front matter, or nil if it has
// none (or it did not parse, in which case it was chunked as text). It is
// valid after the first call of Next.
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
