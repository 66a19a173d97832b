package markdown

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzChunker checks that the chunker never panics, loses no text of valid
// UTF-8 input, keeps chunks within budget with Tokens the codec's count of
// Text, and rejects other input with ErrNotText.
func FuzzChunker(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.md"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b), uint8(0), uint8(0), uint8(0))
	}
	for _, s := range fuzzSeeds {
		f.Add(s, uint8(0), uint8(3), uint8(1))
	}
	c, err := newCounter(nil)
	if err != nil {
		f.Fatal(err)
	}
	codec := c.codec
	f.Fuzz(func(t *testing.T, in string, maxSel, overlapSel, blockSel uint8) {
		maxTokens := 8 + int(maxSel%57) // 8..64
		opts := Options{
			MaxTokens:      maxTokens,
			OverlapTokens:  min(int(overlapSel%16)-1, maxTokens-1), // -1 (none)..14
			MaxBlockTokens: 16 + int(blockSel%8)*16,                // 16..128
		}
		res := run(t, strings.NewReader(in), opts)
		valid := utf8.ValidString(in) && !strings.ContainsRune(in, 0)
		if !valid {
			if !errors.Is(res.err, ErrNotText) {
				t.Fatalf("invalid input: got error %v, want ErrNotText", res.err)
			}
			return
		}
		if res.err != nil {
			t.Fatalf("valid input: %v", res.err)
		}
		if res.bytesRead != int64(len(in)) {
			t.Fatalf("BytesRead = %d, want %d", res.bytesRead, len(in))
		}
		checkInvariants(t, in, opts, res)
		for i, ch := range res.chunks {
			if n, _ := codec.Count(ch.Text); n != ch.Tokens {
				t.Fatalf("chunk %d: Tokens %d, codec counts %d in %q", i, ch.Tokens, n, ch.Text)
			}
		}
	})
}

var fuzzSeeds = []string{
	"",
	"   \n\t\n",
	"\uFEFF# Title\r\nText\r\rMore\r",
	"---\ntitle: x\n---\nbody",
	"---\n: bad: yaml:\n---\nbody",
	"---\n- a\n- b\n---\n",
	"# A\n## B\n### C\n## D\ntext",
	"Title\n=====\nSub\n---\npara",
	"```go\ncode\n```\n~~~~\nunclosed\n",
	"| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |\nafter",
	"우리는 데이터베이스를 튜닝했다. 그리고 결과를 확인했다! 정말인가? 네.",
	"먼저 설정합니다. kubectl을 실행하세요.  pgvector를 켭니다.\n다음 단계입니다. e.g. 이것.",
	"- item one\n- item two\n  continued.\n> quote\n> more",
	"a\x00b",
	"bad \xff byte",
	strings.Repeat("word ", 200),
	strings.Repeat("x", 3000),
	"```\n" + strings.Repeat("line of code\n", 100) + "```\n",
	"| h |\n|---|\n" + strings.Repeat("| row cell content |\n", 50),
}
