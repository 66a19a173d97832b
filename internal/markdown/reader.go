package markdown

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// segmentSize bounds how much of one line is handled at a time: a longer
// line arrives as several pieces, split at rune boundaries.
const segmentSize = 64 << 10

// countingReader counts the bytes read from the underlying reader.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// lineReader turns a byte stream into pieces of logical lines: the BOM is
// stripped, CRLF and lone CR become LF, and invalid UTF-8 or NUL bytes are
// reported with their offset in the raw stream. It never holds more than one
// segment of input.
type lineReader struct {
	br  *bufio.Reader
	src *countingReader

	work    []byte // current segment, normalised
	rest    []byte // unreturned part of work
	restEOF bool   // the input ends after rest

	carry  [utf8.UTFMax]byte // incomplete rune cut off the end of the previous segment
	ncarry int

	pos         int64 // raw offset of the next byte to take from br
	started     bool
	skipLF      bool // the previous segment ended in CR: drop a leading LF
	atLineStart bool
	done        bool
	err         error // sticky
}

func newLineReader(r io.Reader) *lineReader {
	src := &countingReader{r: r}
	return &lineReader{
		br:          bufio.NewReaderSize(src, segmentSize),
		src:         src,
		work:        make([]byte, 0, segmentSize+utf8.UTFMax),
		atLineStart: true,
	}
}

// next returns the next piece of a logical line. The piece includes the
// line's terminating LF, if any, and is valid until the following call.
// first reports whether the piece starts a line, eol whether it ends one
// (with an LF or at the end of input). At the end of input next returns
// io.EOF.
func (lr *lineReader) next() (piece []byte, first, eol bool, err error) {
	for len(lr.rest) == 0 {
		if lr.err != nil {
			return nil, false, false, lr.err
		}
		if lr.done {
			return nil, false, false, io.EOF
		}
		if err := lr.fill(); err != nil {
			lr.err = err
			return nil, false, false, err
		}
	}
	first = lr.atLineStart
	if i := bytes.IndexByte(lr.rest, '\n'); i >= 0 {
		piece, lr.rest = lr.rest[:i+1], lr.rest[i+1:]
		lr.atLineStart = true
		return piece, first, true, nil
	}
	piece, lr.rest = lr.rest, nil
	lr.atLineStart = lr.restEOF
	return piece, first, lr.restEOF, nil
}

// fill reads the next segment into work.
func (lr *lineReader) fill() error {
	if !lr.started {
		lr.started = true
		bom, err := lr.br.Peek(3)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read markdown: %w", err)
		}
		if bytes.Equal(bom, []byte{0xEF, 0xBB, 0xBF}) {
			_, _ = lr.br.Discard(3)
			lr.pos += 3
		}
	}
	raw, rerr := lr.br.ReadSlice('\n')
	eof := false
	switch {
	case rerr == nil, errors.Is(rerr, bufio.ErrBufferFull):
	case errors.Is(rerr, io.EOF):
		eof = true
	default:
		return fmt.Errorf("read markdown at byte %d: %w", lr.pos+int64(len(raw)), rerr)
	}
	rawStart := lr.pos
	lr.pos += int64(len(raw))
	if lr.skipLF && len(raw) > 0 {
		lr.skipLF = false
		if raw[0] == '\n' {
			raw = raw[1:]
			rawStart++
		}
	}

	w := append(lr.work[:0], lr.carry[:lr.ncarry]...)
	w = append(w, raw...)
	workOff := rawStart - int64(lr.ncarry) // raw offset of w[0]
	lr.ncarry = 0

	// A segment cut by the buffer limit may end inside a rune: keep the
	// incomplete tail for the next segment.
	if !eof && (len(w) == 0 || w[len(w)-1] != '\n') {
		if k := incompleteTail(w); k > 0 {
			lr.ncarry = copy(lr.carry[:], w[len(w)-k:])
			w = w[:len(w)-k]
		}
	}
	if err := validate(w, workOff); err != nil {
		return err
	}
	w = normaliseCR(w, &lr.skipLF)
	lr.work = w
	lr.rest = w
	lr.restEOF = eof
	if eof {
		lr.done = true
	}
	return nil
}

// incompleteTail returns the length of a truncated multi-byte rune at the
// end of b, or 0.
func incompleteTail(b []byte) int {
	for k := 1; k < utf8.UTFMax && k <= len(b); k++ {
		if utf8.RuneStart(b[len(b)-k]) {
			if !utf8.FullRune(b[len(b)-k:]) {
				return k
			}
			return 0
		}
	}
	return 0
}

// validate reports the first NUL byte or invalid UTF-8 sequence in b, whose
// first byte is at raw offset off.
func validate(b []byte, off int64) error {
	nul := bytes.IndexByte(b, 0)
	if utf8.Valid(b) {
		if nul >= 0 {
			return fmt.Errorf("binary content (NUL byte) at byte %d: %w", off+int64(nul), ErrNotText)
		}
		return nil
	}
	bad := 0
	for bad < len(b) {
		r, n := utf8.DecodeRune(b[bad:])
		if r == utf8.RuneError && n <= 1 {
			break
		}
		bad += n
	}
	if nul >= 0 && nul < bad {
		return fmt.Errorf("binary content (NUL byte) at byte %d: %w", off+int64(nul), ErrNotText)
	}
	return fmt.Errorf("invalid UTF-8 at byte %d: %w", off+int64(bad), ErrNotText)
}

// normaliseCR rewrites CRLF and lone CR to LF in place. A CR at the very end
// sets *skipLF, so that an LF starting the next segment is dropped.
func normaliseCR(b []byte, skipLF *bool) []byte {
	i := bytes.IndexByte(b, '\r')
	if i < 0 {
		return b
	}
	out := b[:i]
	for ; i < len(b); i++ {
		c := b[i]
		if c != '\r' {
			out = append(out, c)
			continue
		}
		switch {
		case i+1 < len(b) && b[i+1] == '\n':
			// CRLF: the LF follows.
		case i+1 == len(b):
			out = append(out, '\n')
			*skipLF = true
		default:
			out = append(out, '\n')
		}
	}
	return out
}
