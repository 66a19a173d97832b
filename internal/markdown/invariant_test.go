package markdown

import (
	"errors"
	"io"
	"strings"
	"testing"
	"unicode"
)

// result is everything a Chunker produced for one input.
type result struct {
	chunks      []Chunk
	frontMatter map[string]any
	bytesRead   int64
	err         error
}

// run chunks in with opts until io.EOF or an error.
func run(t testing.TB, r io.Reader, opts Options) result {
	t.Helper()
	c, err := NewChunker(r, opts)
	if err != nil {
		t.Fatalf("NewChunker(%+v): %v", opts, err)
	}
	var res result
	for {
		ch, err := c.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			res.err = err
			break
		}
		res.chunks = append(res.chunks, ch)
	}
	res.frontMatter = c.FrontMatter()
	res.bytesRead = c.BytesRead()
	return res
}

// normalise applies what the chunker does to its input before chunking:
// BOM removal and CRLF/CR to LF. If front matter parsed, it is removed.
func normalise(in string, frontMatter bool) string {
	in = strings.TrimPrefix(in, "\uFEFF")
	in = strings.ReplaceAll(in, "\r\n", "\n")
	in = strings.ReplaceAll(in, "\r", "\n")
	if !frontMatter {
		return in
	}
	lines := strings.SplitAfter(in, "\n")
	n := len(lines[0])
	for _, l := range lines[1:] {
		n += len(l)
		l = strings.TrimRight(l, " \t\n")
		if l == "---" || l == "..." {
			return in[n:]
		}
	}
	return ""
}

func stripSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

// checkInvariants verifies the package guarantees for the chunks of in.
func checkInvariants(t testing.TB, in string, opts Options, res result) {
	t.Helper()
	opts, err := opts.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	src := normalise(in, res.frontMatter != nil)
	pos := 0
	var all strings.Builder
	for i, ch := range res.chunks {
		if ch.Ordinal != i {
			t.Fatalf("chunk %d has Ordinal %d", i, ch.Ordinal)
		}
		if strings.TrimSpace(ch.Text) == "" || ch.Body == "" {
			t.Fatalf("chunk %d has empty Text or Body: %+v", i, ch)
		}
		if ch.HeadingPath == nil {
			t.Fatalf("chunk %d has nil HeadingPath", i)
		}
		if strings.TrimRightFunc(ch.Body, unicode.IsSpace) != ch.Body || ch.Body[0] == '\n' {
			t.Fatalf("chunk %d Body starts with a blank line or ends with white space: %q", i, trunc(ch.Body))
		}
		if !strings.Contains(ch.Text, ch.Body) {
			t.Fatalf("chunk %d Text does not contain Body:\nText %q\nBody %q", i, ch.Text, ch.Body)
		}
		// Body is the next span of the source, after white space only.
		at := strings.Index(src[pos:], ch.Body)
		if at < 0 || strings.TrimSpace(src[pos:pos+at]) != "" {
			gap := src[pos:min(len(src), pos+200)]
			t.Fatalf("chunk %d Body is not the next span of the input:\nBody %q\ninput at %d: %q", i, trunc(ch.Body), pos, gap)
		}
		pos += at + len(ch.Body)
		all.WriteString(ch.Body)
		if ch.Tokens > opts.MaxTokens && !oversizedCode(ch, opts) {
			t.Fatalf("chunk %d has %d tokens > MaxTokens %d:\nText %q", i, ch.Tokens, opts.MaxTokens, trunc(ch.Text))
		}
	}
	if strings.TrimSpace(src[pos:]) != "" {
		t.Fatalf("input after the last chunk is not white space: %q", trunc(src[pos:]))
	}
	if got, want := stripSpace(all.String()), stripSpace(src); got != want {
		t.Fatalf("Bodies lose or add text: got %d, want %d non-space bytes", len(got), len(want))
	}
}

// oversizedCode reports whether ch is an unsplit code block within
// MaxBlockTokens, possibly after the headings of the sections it opens (a
// heading-only section is packed with the next, see Options.PackTokens).
func oversizedCode(ch Chunk, opts Options) bool {
	if ch.Tokens > opts.MaxBlockTokens || strings.TrimSpace(ch.Text) != strings.TrimSpace(ch.Body) {
		return false
	}
	body := ch.Body
	for {
		if _, _, ok := fenceOpen([]byte(firstLine(body))); ok {
			return true
		}
		next := body[len(firstLine(body)):]
		if _, _, ok := atxHeading([]byte(firstLine(body))); ok {
			body = strings.TrimLeft(next, " \t\n")
			continue
		}
		if next == "" || setextLevel([]byte(firstLine(next[1:]))) == 0 {
			return false
		}
		next = next[1:]
		body = strings.TrimLeft(next[len(firstLine(next)):], " \t\n")
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func trunc(s string) string {
	if len(s) > 300 {
		return s[:150] + " … " + s[len(s)-150:]
	}
	return s
}
