package markdown

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

// noOverlap disables overlap so that chunk texts are predictable.
const (
	noOverlap = -1
	noPack    = -1 // every section its own chunks: for tests of block structure
)

// chunkString chunks in, fails on error and checks the invariants.
func chunkString(t *testing.T, in string, opts Options) result {
	t.Helper()
	res := run(t, strings.NewReader(in), opts)
	if res.err != nil {
		t.Fatalf("Next: %v", res.err)
	}
	checkInvariants(t, in, opts, res)
	return res
}

// pathBody is what the structure tests compare.
type pathBody struct {
	Path []string
	Body string
}

func pathBodies(chunks []Chunk) []pathBody {
	out := make([]pathBody, len(chunks))
	for i, ch := range chunks {
		out[i] = pathBody{ch.HeadingPath, ch.Body}
	}
	return out
}

func TestOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    Options
		want    Options
		wantErr string // substring naming the field
	}{
		{"defaults", Options{}, Options{MaxTokens: 512, OverlapTokens: 64, MaxBlockTokens: 2048, PackTokens: 64}, ""},
		{"small max scales overlap", Options{MaxTokens: 100}, Options{MaxTokens: 100, OverlapTokens: 25, MaxBlockTokens: 400, PackTokens: 12}, ""},
		{"overlap disabled", Options{OverlapTokens: -1}, Options{MaxTokens: 512, OverlapTokens: -1, MaxBlockTokens: 2048, PackTokens: 64}, ""},
		{"explicit", Options{MaxTokens: 64, OverlapTokens: 8, MaxBlockTokens: 100, PackTokens: -1}, Options{MaxTokens: 64, OverlapTokens: 8, MaxBlockTokens: 100, PackTokens: -1}, ""},
		{"negative max", Options{MaxTokens: -1}, Options{}, "MaxTokens"},
		{"max below minimum", Options{MaxTokens: 4}, Options{}, "MaxTokens"},
		{"overlap not below max", Options{MaxTokens: 64, OverlapTokens: 64}, Options{}, "OverlapTokens"},
		{"negative block", Options{MaxBlockTokens: -2}, Options{}, "MaxBlockTokens"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.opts.withDefaults()
			_, nerr := NewChunker(strings.NewReader(""), tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("withDefaults(%+v) error = %v, want one naming %s", tt.opts, err, tt.wantErr)
				}
				if nerr == nil {
					t.Fatalf("NewChunker(%+v) accepted invalid options", tt.opts)
				}
				return
			}
			if err != nil || nerr != nil {
				t.Fatalf("withDefaults(%+v): %v, NewChunker: %v", tt.opts, err, nerr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("withDefaults(%+v) mismatch (-want +got):\n%s", tt.opts, diff)
			}
		})
	}
}

func TestHeadings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want []pathBody
	}{
		{
			name: "atx and setext with level pops",
			in: "Preface text.\n\n# Guide\n\nIntro.\n\n## 설치\n\nInstall.\n\n### Linux\n\nUse apt.\n\n" +
				"## Usage ##\n\nRun it.\n\nSetext Title\n============\n\nTop again.\n\nSub Title\n---------\n\n" +
				"Sub text.\n\n#### Deep\n\nDeep text.\n",
			want: []pathBody{
				{[]string{}, "Preface text."},
				{[]string{"Guide"}, "# Guide\n\nIntro."},
				{[]string{"Guide", "설치"}, "## 설치\n\nInstall."},
				{[]string{"Guide", "설치", "Linux"}, "### Linux\n\nUse apt."},
				{[]string{"Guide", "Usage"}, "## Usage ##\n\nRun it."},
				{[]string{"Setext Title"}, "Setext Title\n============\n\nTop again."},
				{[]string{"Setext Title", "Sub Title"}, "Sub Title\n---------\n\nSub text."},
				{[]string{"Setext Title", "Sub Title", "Deep"}, "#### Deep\n\nDeep text."},
			},
		},
		{
			name: "not headings",
			in:   "#hashtag\n####### seven\n    # indented\n\\# escaped\n",
			want: []pathBody{{[]string{}, "#hashtag\n####### seven\n    # indented\n\\# escaped"}},
		},
		{
			name: "heading interrupts paragraph, empty sections keep their heading",
			in:   "text\n# A\n## B\n# C #\nmore",
			want: []pathBody{
				{[]string{}, "text"},
				{[]string{"A"}, "# A"},
				{[]string{"A", "B"}, "## B"},
				{[]string{"C"}, "# C #\nmore"},
			},
		},
		{
			name: "skipped levels and closing hashes",
			in:   "# Top\n### Deep ###\ntext\n## Mid\ntext",
			want: []pathBody{
				{[]string{"Top"}, "# Top"},
				{[]string{"Top", "Deep"}, "### Deep ###\ntext"},
				{[]string{"Top", "Mid"}, "## Mid\ntext"},
			},
		},
		{
			name: "dashes under a multi-line paragraph stay text",
			in:   "line one\nline two\n---\nafter",
			want: []pathBody{{[]string{}, "line one\nline two\n---\nafter"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := chunkString(t, tt.in, Options{OverlapTokens: noOverlap, PackTokens: noPack})
			if diff := cmp.Diff(tt.want, pathBodies(res.chunks)); diff != "" {
				t.Errorf("chunks mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCodeFences(t *testing.T) {
	t.Parallel()
	var lines strings.Builder
	for i := range 60 {
		fmt.Fprintf(&lines, "    result_%d = compute(%d, \"value %d\")\n", i, i*7, i)
	}
	block := "```python title=\"demo.py\"\n" + lines.String() + "```"

	t.Run("kept whole beyond MaxTokens", func(t *testing.T) {
		t.Parallel()
		in := "# Code\n\nSome text here.\n\n" + block + "\n\nAfter."
		res := chunkString(t, in, Options{MaxTokens: 64, MaxBlockTokens: 2000, OverlapTokens: noOverlap})
		want := []pathBody{
			{[]string{"Code"}, "# Code\n\nSome text here."},
			{[]string{"Code"}, block},
			{[]string{"Code"}, "After."},
		}
		if diff := cmp.Diff(want, pathBodies(res.chunks)); diff != "" {
			t.Fatalf("chunks mismatch (-want +got):\n%s", diff)
		}
		if ch := res.chunks[1]; ch.Text != ch.Body || ch.Tokens <= 64 || ch.Tokens > 2000 {
			t.Errorf("code chunk: Tokens %d, Text==Body %t; want one unsplit chunk over MaxTokens", ch.Tokens, ch.Text == ch.Body)
		}
	})

	t.Run("huge block split into valid fenced pieces", func(t *testing.T) {
		t.Parallel()
		res := chunkString(t, block, Options{MaxTokens: 64, MaxBlockTokens: 100, OverlapTokens: noOverlap})
		opener := "```python title=\"demo.py\"\n"
		var bodies []string
		for _, ch := range res.chunks {
			if !strings.Contains(ch.Body, "result_") {
				continue
			}
			if !strings.HasSuffix(ch.Text, "\n```") || strings.Count(ch.Text, "```") != 2 {
				t.Errorf("piece is not one closed fenced block:\n%s", ch.Text)
			}
			if strings.HasPrefix(ch.Body, "```") {
				if !strings.HasPrefix(ch.Text, opener) {
					t.Errorf("first piece does not start with the opener:\n%s", ch.Text)
				}
			} else if ch.Text[:len(opener)] != opener || ch.Text[len(opener):len(opener)+len(ch.Body)] != ch.Body {
				t.Errorf("piece Text is not opener + Body + closer:\n%s", ch.Text)
			}
			bodies = append(bodies, ch.Body)
		}
		if len(bodies) < 3 {
			t.Fatalf("block split into %d pieces, want several", len(bodies))
		}
		if got := strings.Join(bodies, "\n"); got != block {
			t.Errorf("pieces do not add up to the block:\n%s", got)
		}
	})

	tests := []struct {
		name string
		in   string
		opts Options
		want []pathBody
	}{
		{
			name: "unclosed fence runs to the end",
			in:   "# T\n\n~~~\ncode line\n# not a heading\n| a | b |\n|---|---|\n",
			opts: Options{OverlapTokens: noOverlap},
			want: []pathBody{{[]string{"T"}, "# T\n\n~~~\ncode line\n# not a heading\n| a | b |\n|---|---|"}},
		},
		{
			name: "inner shorter fence does not close",
			in:   "````md\n```go\nx := 1\n```\n````\n# After",
			opts: Options{OverlapTokens: noOverlap, PackTokens: noPack},
			want: []pathBody{
				{[]string{}, "````md\n```go\nx := 1\n```\n````"},
				{[]string{"After"}, "# After"},
			},
		},
		{
			name: "backtick in info string is no fence",
			in:   "``` a`b\n# Heading",
			opts: Options{OverlapTokens: noOverlap, PackTokens: noPack},
			want: []pathBody{
				{[]string{}, "``` a`b"},
				{[]string{"Heading"}, "# Heading"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := chunkString(t, tt.in, tt.opts)
			if diff := cmp.Diff(tt.want, pathBodies(res.chunks)); diff != "" {
				t.Errorf("chunks mismatch (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("unclosed split block is closed in Text", func(t *testing.T) {
		t.Parallel()
		in := "~~~\n" + lines.String()
		res := chunkString(t, in, Options{MaxTokens: 64, MaxBlockTokens: 64})
		if len(res.chunks) < 2 {
			t.Fatalf("got %d chunks, want a split", len(res.chunks))
		}
		for _, ch := range res.chunks {
			if !strings.HasSuffix(ch.Text, "\n~~~") || strings.HasSuffix(ch.Body, "~~~") {
				t.Errorf("piece not closed by a synthesized fence:\n%s", ch.Text)
			}
		}
	})
}

func TestTables(t *testing.T) {
	t.Parallel()
	header := "| Name | Value | Note |\n|------|------:|:----:|\n"
	var rows strings.Builder
	for i := range 40 {
		fmt.Fprintf(&rows, "| item-%02d | %d | note %d |\n", i, i*1000, i)
	}
	table := header + rows.String()

	t.Run("split with repeated header", func(t *testing.T) {
		t.Parallel()
		in := "# Data\n\nThe table follows directly:\n" + table + "\nAfter the table."
		res := chunkString(t, in, Options{MaxTokens: 64, OverlapTokens: noOverlap})
		var got []string
		for i, ch := range res.chunks {
			if !strings.Contains(ch.Body, "| item-") {
				continue
			}
			body := ch.Body
			if rest, ok := strings.CutPrefix(body, "# Data\n\nThe table follows directly:\n"); ok {
				body = rest // the table starts in the chunk of its section's intro
			} else if strings.Contains(body, "| Name") {
				t.Errorf("chunk %d repeats the header in Body", i)
			}
			if body != ch.Body && ch.Text != ch.Body {
				t.Errorf("chunk %d with the header has context %q", i, ch.Text)
			}
			if body == ch.Body && ch.Text != header+ch.Body {
				t.Errorf("chunk %d Text is not header + Body:\n%s", i, ch.Text)
			}
			got = append(got, strings.TrimSuffix(body, "\n\nAfter the table."))
		}
		if len(got) < 3 {
			t.Fatalf("table split into %d pieces, want several", len(got))
		}
		if diff := cmp.Diff(strings.TrimSuffix(table, "\n"), strings.Join(got, "\n")); diff != "" {
			t.Errorf("pieces do not add up to the table (-want +got):\n%s", diff)
		}
	})

	t.Run("small table stays with its paragraph", func(t *testing.T) {
		t.Parallel()
		in := "Intro.\n\n" + header + "| a | 1 | x |\n\nAfter."
		res := chunkString(t, in, Options{OverlapTokens: noOverlap})
		want := []pathBody{{[]string{}, strings.TrimSpace(in)}}
		if diff := cmp.Diff(want, pathBodies(res.chunks)); diff != "" {
			t.Errorf("chunks mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("delimiter with other cell count is no table", func(t *testing.T) {
		t.Parallel()
		in := "| a | b |\n|---|\n" + strings.Repeat("| 1 | 2 |\n", 30)
		res := chunkString(t, in, Options{MaxTokens: 32, OverlapTokens: noOverlap})
		for i, ch := range res.chunks {
			if ch.Text != ch.Body {
				t.Errorf("chunk %d has context %q, want none (not a table)", i, strings.TrimSuffix(ch.Text, ch.Body))
			}
		}
	})
}

func TestFrontMatter(t *testing.T) {
	t.Parallel()
	invalid, err := os.ReadFile(filepath.Join("testdata", "frontmatter_invalid.md"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		in        string
		want      map[string]any
		firstBody string
	}{
		{
			name:      "valid",
			in:        "---\ntitle: Hello\ntags: [a, b]\nn: 3\n---\n# Body\n\ntext\n",
			want:      map[string]any{"title": "Hello", "tags": []any{"a", "b"}, "n": 3},
			firstBody: "# Body\n\ntext",
		},
		{
			name:      "dots terminator and BOM",
			in:        "\uFEFF---\r\nk: v\r\n...\r\ntext",
			want:      map[string]any{"k": "v"},
			firstBody: "text",
		},
		{
			name:      "empty",
			in:        "---\n---\ntext",
			want:      map[string]any{},
			firstBody: "text",
		},
		{
			name:      "invalid yaml kept as text",
			in:        string(invalid),
			firstBody: "---\ntitle: [unclosed\n: this is: not yaml\n---",
		},
		{
			name:      "not a mapping kept as text",
			in:        "---\n- a\n- b\n---\ntext",
			firstBody: "---\n- a\n- b\n---\ntext",
		},
		{
			name:      "unterminated kept as text",
			in:        "---\nk: v\nno end",
			firstBody: "---\nk: v\nno end",
		},
		{
			name:      "not at the very start",
			in:        "\n---\nk: v\n---\ntext",
			firstBody: "---\nk: v\n---\ntext",
		},
		{
			name:      "over 64 KiB kept as text",
			in:        "---\nk: " + strings.Repeat("v", 70<<10) + "\n---\ntext",
			firstBody: "---",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := chunkString(t, tt.in, Options{OverlapTokens: noOverlap})
			if diff := cmp.Diff(tt.want, res.frontMatter); diff != "" {
				t.Errorf("FrontMatter mismatch (-want +got):\n%s", diff)
			}
			if len(res.chunks) == 0 || !strings.HasPrefix(res.chunks[0].Body, tt.firstBody) {
				t.Errorf("first Body does not start with %q: %+v", tt.firstBody, res.chunks)
			}
		})
	}
}

func TestLineEndings(t *testing.T) {
	t.Parallel()
	lf := "# Title\n\nFirst line.\nSecond line.\n\n```\ncode\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
	long := strings.Repeat("a", segmentSize-1) // its line ending straddles the first segment
	tests := []struct {
		name    string
		in, ref string
	}{
		{"crlf", strings.ReplaceAll(lf, "\n", "\r\n"), lf},
		{"lone cr", strings.ReplaceAll(lf, "\n", "\r"), lf},
		{"mixed", "# Title\r\n\r\nFirst line.\rSecond line.\n\r\n```\r\ncode\r```\n\n| a | b |\r\n|---|---|\n| 1 | 2 |\r", lf},
		{"bom", "\uFEFF" + lf, lf},
		{"crlf across segments", long + "\r\nnext\r\n", long + "\nnext\n"},
		{"cr at segment end", long + "\rnext", long + "\nnext"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := Options{MaxTokens: 16, MaxBlockTokens: 16}
			got := chunkString(t, tt.in, opts)
			want := chunkString(t, tt.ref, opts)
			if diff := cmp.Diff(want.chunks, got.chunks); diff != "" {
				t.Errorf("chunks differ from the LF input (-want +got):\n%s", diff)
			}
			for _, ch := range got.chunks {
				if strings.ContainsAny(ch.Text, "\r\uFEFF") {
					t.Errorf("CR or BOM left in %q", ch.Text)
				}
			}
		})
	}
}

func TestLongLines(t *testing.T) {
	t.Parallel()
	size := 5 << 20
	if testing.Short() {
		size = 1 << 20
	}
	sentences := strings.Repeat("데이터베이스를 튜닝했다. The quick brown fox jumps over the lazy dog! ", size/90)
	tests := []struct {
		name string
		in   string
	}{
		{"sentences", sentences},
		{"one word", strings.Repeat("abcdefghij", size/10)},
		{"hangul without spaces", strings.Repeat("가나다라마바사", size/21)},
		{"code line", "```\n" + strings.Repeat("x = f(y); ", 1<<17) + "\n```\n"},
		{"table row", "| a | b |\n|---|---|\n| " + strings.Repeat("cell ", 1<<17) + "| z |\n"},
		{"heading", "# " + strings.Repeat("Title words ", 1<<16) + "\nbody"},
		{"white space", "a" + strings.Repeat(" ", 1<<20) + "b\n" + strings.Repeat("\n", 1<<20) + "c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := Options{MaxTokens: 256}
			res := chunkString(t, tt.in, opts) // Tokens ≤ MaxTokens, no loss
			if len(res.chunks) == 0 {
				t.Fatal("no chunks")
			}
		})
	}
}

func TestKoreanSentences(t *testing.T) {
	t.Parallel()
	in, err := os.ReadFile(filepath.Join("testdata", "korean.md"))
	if err != nil {
		t.Fatal(err)
	}
	res := chunkString(t, string(in), Options{MaxTokens: 48, OverlapTokens: noOverlap})
	if len(res.chunks) < 4 {
		t.Fatalf("got %d chunks, want the paragraphs split", len(res.chunks))
	}
	for i, ch := range res.chunks {
		last := []rune(ch.Body)[len([]rune(ch.Body))-1]
		if !strings.ContainsRune(".!?", last) && !strings.HasPrefix(ch.Body, "#") {
			t.Errorf("chunk %d does not end at a sentence end: %q", i, ch.Body)
		}
	}

	// Three sentences of which no two fit together.
	s1, s2, s3 := "우리는 어제 데이터베이스를 다시 튜닝했다.", "응답 시간이 열 배나 빨라졌을까?", "그렇다, 정말 빨라졌다!"
	res = chunkString(t, s1+" "+s2+" "+s3, Options{MaxTokens: 30, OverlapTokens: noOverlap})
	want := []pathBody{{[]string{}, s1}, {[]string{}, s2}, {[]string{}, s3}}
	if diff := cmp.Diff(want, pathBodies(res.chunks)); diff != "" {
		t.Errorf("chunks mismatch (-want +got):\n%s", diff)
	}
}

func TestOverlap(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("# One\n\n")
	for i := range 30 {
		fmt.Fprintf(&b, "Sentence number %d talks about the ingest pipeline. ", i)
	}
	b.WriteString("\n\n```\ncode block\n```\n\nAfter code.\n\n# Two\n\nFresh section text.\n")
	res := chunkString(t, b.String(), Options{MaxTokens: 64, OverlapTokens: 20})
	c, err := newCounter(nil)
	if err != nil {
		t.Fatal(err)
	}
	overlaps := 0
	for i, ch := range res.chunks {
		if ch.Text == ch.Body {
			continue
		}
		overlaps++
		prev := res.chunks[i-1]
		ctx, _, ok := strings.Cut(ch.Text, ch.Body)
		if !ok {
			t.Fatalf("chunk %d Text does not contain Body", i)
		}
		if !strings.HasSuffix(prev.Body, strings.TrimSpace(ctx)) {
			t.Errorf("chunk %d overlap %q is not the end of the previous Body %q", i, ctx, prev.Body)
		}
		if n := c.count(strings.TrimSpace(ctx)); n > 20 {
			t.Errorf("chunk %d overlap has %d tokens > 20", i, n)
		}
		if !cmp.Equal(prev.HeadingPath, ch.HeadingPath) {
			t.Errorf("chunk %d has overlap across sections", i)
		}
		if strings.Contains(ctx, "code block") {
			t.Errorf("chunk %d takes overlap from code", i)
		}
	}
	if overlaps < 3 {
		t.Errorf("got %d chunks with overlap, want several", overlaps)
	}
}

func TestNotText(t *testing.T) {
	t.Parallel()
	pad := strings.Repeat("a", segmentSize-1)
	tests := []struct {
		name string
		in   string
		off  int
		nul  bool
	}{
		{"invalid byte", "hello \xff world", 6, false},
		{"nul byte", "abc\x00def", 3, true},
		{"truncated rune at end", "abc\xe4\xb8", 3, false},
		{"bad rune across segments", pad + "\xe4zz", segmentSize - 1, false},
		{"offset counts bom and cr", "\uFEFFa\r\n\xff", 6, false},
		{"after many chunks", strings.Repeat("# H\n\nSome text.\n\n", 20000) + "\xc0\x80", 20000 * 17, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := run(t, strings.NewReader(tt.in), Options{})
			if !errors.Is(res.err, ErrNotText) {
				t.Fatalf("error = %v, want ErrNotText", res.err)
			}
			if want := fmt.Sprintf("at byte %d:", tt.off); !strings.Contains(res.err.Error(), want) {
				t.Errorf("error %q does not report %q", res.err, want)
			}
			if tt.nul != strings.Contains(res.err.Error(), "NUL") {
				t.Errorf("error %q: NUL mentioned = %t, want %t", res.err, !tt.nul, tt.nul)
			}
		})
	}

	t.Run("valid rune across segments", func(t *testing.T) {
		t.Parallel()
		chunkString(t, pad+"가나\n", Options{})
	})
	t.Run("error is sticky", func(t *testing.T) {
		t.Parallel()
		c, err := NewChunker(strings.NewReader("\xff"), Options{})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, err := c.Next(); !errors.Is(err, ErrNotText) {
				t.Fatalf("Next = %v, want ErrNotText", err)
			}
		}
	})
}

func TestNoChunks(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", " ", "\n\n\t\n", "\uFEFF", "\r\n\r\n", "\u3000\n"} {
		t.Run(fmt.Sprintf("%q", in), func(t *testing.T) {
			t.Parallel()
			c, err := NewChunker(strings.NewReader(in), Options{})
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if ch, err := c.Next(); !errors.Is(err, io.EOF) {
					t.Fatalf("Next = %+v, %v; want io.EOF", ch, err)
				}
			}
			if got := c.BytesRead(); got != int64(len(in)) {
				t.Errorf("BytesRead = %d, want %d", got, len(in))
			}
		})
	}
}

func TestReadError(t *testing.T) {
	t.Parallel()
	errBoom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("# A\n\ntext\n"), iotest.ErrReader(errBoom))
	res := run(t, r, Options{})
	if !errors.Is(res.err, errBoom) {
		t.Fatalf("error = %v, want it to wrap %v", res.err, errBoom)
	}
}

// TestFixtures chunks every fixture at several sizes through readers that
// return data in odd pieces, checks the invariants and that Tokens is the
// codec's count of Text, and that the reader makes no difference.
func TestFixtures(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	readers := map[string]func(io.Reader) io.Reader{
		"one byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
		"data err": iotest.DataErrReader,
	}
	for _, name := range files {
		in, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, max := range []int{16, 64, 512} {
			t.Run(fmt.Sprintf("%s/%d", filepath.Base(name), max), func(t *testing.T) {
				t.Parallel()
				opts := Options{MaxTokens: max}
				want := chunkString(t, string(in), opts)
				c, err := newCounter(nil)
				if err != nil {
					t.Fatal(err)
				}
				for i, ch := range want.chunks {
					if n, _ := c.codec.Count(ch.Text); n != ch.Tokens {
						t.Errorf("chunk %d: Tokens %d, codec counts %d in %q", i, ch.Tokens, n, ch.Text)
					}
				}
				for rname, wrap := range readers {
					got := run(t, wrap(strings.NewReader(string(in))), opts)
					if got.err != nil {
						t.Fatalf("%s reader: %v", rname, got.err)
					}
					if diff := cmp.Diff(want, got, cmp.AllowUnexported(result{})); diff != "" {
						t.Errorf("%s reader changes the result (-want +got):\n%s", rname, diff)
					}
				}
			})
		}
	}
}
